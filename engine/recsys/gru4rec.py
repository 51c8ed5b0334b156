"""GRU4Rec: Hidasi, Karatzoglou, Baltrunas and Tikk, "Session-based Recommendations with Recurrent
Neural Networks", ICLR 2016, section 3.

A GRU reads the history one item at a time (section 3, eq. 2-5 in the paper's symbols):

    z_t = sigma(W_z x_t + U_z h_{t-1})                     (update gate, eq. 3)
    r_t = sigma(W_r x_t + U_r h_{t-1})                     (reset gate, eq. 5)
    h^_t = tanh(W x_t + U (r_t . h_{t-1}))                 (candidate, eq. 4)
    h_t = (1 - z_t) h_{t-1} + z_t h^_t                     (eq. 2)

(torch's nn.GRU). The user vector is a readout of the hidden states, projected into item space:
"last" = h at the last real item (the paper's choice), "mean" = the average of h over real items.
The history is left-aligned with padding on the right, and a GRU only looks back, so the state at a
real position never depends on padding; the last readout gathers position len-1 and the mean
averages positions < len, so neither reads a padded step. Training here is the listwise softmax
of the base class (the paper's own losses, BPR and TOP1, section 3.1.3, are for sampled scores).
"""
from __future__ import annotations

import torch
from torch import nn

from engine.errors import ConfigError
from engine.recsys.base import RecModel, UserEncoding, einsum_step, valid_positions


class GRU4Rec(RecModel):
    name = "gru4rec"
    multi_interest = False

    def __init__(self, n_items: int, dim: int = 64, maxlen: int = 20, *, readout: str = "last", hidden: int | None = None, **kw) -> None:
        super().__init__(n_items, dim, maxlen, **kw)
        if readout not in ("last", "mean"):
            raise ConfigError(f"GRU4Rec readout must be 'last' or 'mean', not {readout!r}.")
        self.readout = readout
        h = int(hidden or dim)
        self.gru = nn.GRU(dim, h, batch_first=True)
        self.out = nn.Linear(h, dim)

    def encode(self, hist, lens, *, target=None, trace=False, iterations=None, k=None) -> UserEncoding:
        x = self.embed_history(hist)  # [B, L, d]
        h, _ = self.gru(x)  # [B, L, h]: h_t for every t; at a real t it has read only real items
        lens = lens.clamp(min=1, max=hist.shape[1])
        if self.readout == "last":
            state = h[torch.arange(h.shape[0]), lens - 1]  # [B, h]: h at the last real item
            spec, ops = "blh->bh (gather t = len-1)", {"h": h}
        else:
            m = valid_positions(hist).float()  # [B, L]
            state = torch.einsum("blh,bl->bh", h, m) / m.sum(1, keepdim=True).clamp(min=1.0)  # [B, h]
            spec, ops = "blh,bl->bh", {"h": h, "m": m}
        u = self.out(state)  # [B, d]
        tr = {"steps": [einsum_step(f"{self.readout} readout of the GRU states", "eq. 2", spec, **ops)]} if trace else None
        return UserEncoding(vectors=u[:, None, :], mask=torch.ones(u.shape[0], 1, dtype=torch.bool), trace=tr)
