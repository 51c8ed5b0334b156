"""The trainer's optimiser: Adam, and for a sparse item table (sampled softmax at catalogue scale)
SparseAdam on that table beside Adam on everything else.

SparseAdam (lazy Adam) updates only the item rows a batch touched, and their moments, so a step
costs O(B d), not O(I d); it has no weight decay, so the item table is not decayed in that mode.
Small catalogues keep the plain Adam of before (same numbers).
"""
from __future__ import annotations

import torch

from engine.recsys.base import RecModel


class SparseDenseAdam:
    """SparseAdam for the sparse item table and Adam for the other parameters, stepped together."""

    def __init__(self, item_weight: torch.nn.Parameter, dense_groups: list[dict], lr: float) -> None:
        self.optimizers = [torch.optim.SparseAdam([item_weight], lr=lr)]
        if dense_groups:
            self.optimizers.append(torch.optim.Adam(dense_groups, lr=lr))

    def zero_grad(self, set_to_none: bool = True) -> None:
        for o in self.optimizers:
            o.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for o in self.optimizers:
            o.step()


def make_optimizer(model: RecModel, groups: list[dict], lr: float):
    """Adam over `groups` (run.param_groups), or SparseDenseAdam when the item table is sparse."""
    if not getattr(model.item_emb, "sparse", False):
        return torch.optim.Adam(groups, lr=lr)
    w = model.item_emb.weight
    dense = [{**g, "params": [p for p in g["params"] if p is not w]} for g in groups]
    return SparseDenseAdam(w, [g for g in dense if g["params"]], lr)
