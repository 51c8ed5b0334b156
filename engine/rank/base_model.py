"""BaseModel (Embedding & MLP): the target-agnostic baseline of DIN (Zhou et al., KDD 2018, section 4.2)
and DIEN (Zhou et al., AAAI 2019, section 4.1, "BaseModel").

The history is pooled into one fixed vector that does not depend on the candidate, then
concatenated with the candidate's embedding and passed through the MLP:

    s_u = (1/|H|) sum_{t in H} e_t            (the papers sum-pool; we average, so long and short
                                               histories share one scale)
    p(u, a) = sigmoid(MLP([e_a ; s_u]))

This is the input layout of the authors' own DNN baseline (DIEN repository, `Model_DNN`).
"""
from __future__ import annotations

import torch

from engine.rank.base import Ranker


class BaseModel(Ranker):
    name = "base"

    def __init__(self, n_items: int, item_category, **kw) -> None:
        super().__init__(n_items, item_category, **kw)
        self.build_mlp(2 * self.e_dim)

    def forward(self, hist: torch.Tensor, lens: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        e = self.embed(hist)  # [B, L, D]
        s = self.mean_pool(e, hist > 0)  # [B, D]
        e_a = self.embed(items)  # [B, C, D]
        return self.head(e_a, s[:, None, :].expand_as(e_a))  # [B, C]
