"""MostPopular: every user gets the items most consumed by the training users.

Not learned. Written as a one-dimensional two-tower model so that it goes through the same retrieval
and the same test_embeddings.npz as the others: the user vector is [1], item r's vector is
[train count of r], so the inner product is the count.
"""
from __future__ import annotations

import torch

from engine.recsys.base import RecModel, UserEncoding


class MostPop(RecModel):
    name = "mostpop"
    multi_interest = False

    def __init__(self, n_items: int, dim: int = 1, maxlen: int = 20, **_: object) -> None:
        super().__init__(n_items, dim=1, maxlen=maxlen)
        self.item_emb.weight.requires_grad_(False)
        with torch.no_grad():
            self.item_emb.weight.zero_()

    def set_item_counts(self, counts) -> None:
        super().set_item_counts(counts)
        with torch.no_grad():
            c = torch.as_tensor(counts, dtype=torch.float32).clone()
            c[0] = 0.0
            self.item_emb.weight.copy_(c[:, None])  # [I+1, 1]

    def encode(self, hist, lens, *, target=None, trace=False, iterations=None, k=None) -> UserEncoding:
        b = hist.shape[0]
        return UserEncoding(
            vectors=torch.ones(b, 1, 1),  # [B, 1, 1]
            mask=torch.ones(b, 1, dtype=torch.bool),
            trace=None,
        )

    def loss(self, hist, lens, target):
        raise NotImplementedError("MostPopular is counted, not trained.")
