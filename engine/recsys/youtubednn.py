"""YouTubeDNN-style mean pooling: Covington, Adams and Sargin, "Deep Neural Networks for YouTube
Recommendations", RecSys 2016, section 3 (candidate generation).

The watch history is embedded and averaged (section 3.2: averaging "performed best"; fig. 3);
the average goes through a tower of ReLU layers and becomes the user vector u; training is extreme
multiclass classification (section 3.1):

    P(w_t = i | U, C) = exp(v_i . u) / sum_{j in V} exp(v_j . u)

Here the video vectors v_i are the input embeddings (tied), there are no other user features, and
the tower keeps the average as a residual path: u = mean + W_2 ReLU(W_1 mean) (a plain tower learns
the same function, more slowly). Padding is left out of the average.
"""
from __future__ import annotations

import torch
from torch import nn

from engine.recsys.base import RecModel, UserEncoding, einsum_step, valid_positions


class YouTubeDNN(RecModel):
    name = "youtubednn"
    multi_interest = False

    def __init__(self, n_items: int, dim: int = 64, maxlen: int = 20, **kw) -> None:
        super().__init__(n_items, dim, maxlen, **kw)
        self.tower = nn.Sequential(nn.Linear(dim, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, dim))
        nn.init.zeros_(self.tower[2].weight)  # starts as plain mean pooling
        nn.init.zeros_(self.tower[2].bias)

    def encode(self, hist, lens, *, target=None, trace=False, iterations=None, k=None) -> UserEncoding:
        e = self.embed_history(hist)  # [B, L, d]
        m = valid_positions(hist).float()  # [B, L]
        mean = torch.einsum("bld,bl->bd", e, m) / m.sum(1, keepdim=True).clamp(min=1.0)  # [B, d]
        u = mean + self.tower(mean)  # [B, d]
        tr = None
        if trace:
            tr = {"steps": [einsum_step("average the watch history", "fig. 3 (average)", "bld,bl->bd", e=e, m=m)]}
        return UserEncoding(vectors=u[:, None, :], mask=torch.ones(u.shape[0], 1, dtype=torch.bool), trace=tr)
