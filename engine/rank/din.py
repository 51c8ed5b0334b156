"""DIN: Zhou et al., "Deep Interest Network for Click-Through Rate Prediction", KDD 2018, section 4.3.

The user's interest is pooled from the history with weights that depend on the candidate ad A
(eq. 3, the local activation unit):

    v_U(A) = f(v_A, e_1, ..., e_H) = sum_{j=1}^{H} a(e_j, v_A) e_j = sum_j w_j e_j        (eq. 3)

a(., .) is a small feed-forward network (Fig. 2: 80-40-1) on [e_j ; v_A ; e_j - v_A ; e_j * v_A]
(the paper's figure draws the out product of e_j and v_A; the authors' code feeds the difference
and the element-wise product, as here). "The normalization with softmax on the output of a(.) is
abandoned" (section 4.3): the weights w_j are NOT softmaxed, so sum_j w_j keeps how intense the
user's interest in A is. Padding positions get w_j = 0 (masked, never part of the sum).

The MLP reads [e_A ; s_u ; e_A * s_u ; v_U(A)], s_u the mean-pooled history: the authors' input
layout (DIEN repository, `DIN_V2...`/`din_fcn_attention` followed by the same MLP), so DIN differs
from BaseModel only by the target-dependent v_U(A). Activations: PReLU (default) or Dice (eq. 9).
"""
from __future__ import annotations

import torch

from engine.rank.base import Ranker, mlp


class DIN(Ranker):
    name = "din"

    def __init__(self, n_items: int, item_category, *, att_hidden: tuple[int, ...] = (80, 40), **kw) -> None:
        super().__init__(n_items, item_category, **kw)
        D = self.e_dim
        self.att = mlp([4 * D, *att_hidden, 1], self.act)  # the local activation unit a(e_j, v_A)
        self.build_mlp(4 * D)

    def attention(self, e: torch.Tensor, mask: torch.Tensor, e_a: torch.Tensor) -> torch.Tensor:
        """Activation weights w_j = a(e_j, v_A) [B, C, L]: no softmax (section 4.3), 0 at padding.

        The unit's first layer on [e_j ; v_A ; e_j - v_A ; e_j * v_A] is one Linear W = [W1 W2 W3 W4];
        it is computed as (W1 + W3) e_j + (W2 - W3) v_A + W4 (e_j * v_A), so only the last term runs
        per (history step, candidate) pair (the same numbers, four times less work)."""
        first = self.att[0]
        W1, W2, W3, W4 = first.weight.chunk(4, dim=1)  # each [A, D]
        q = torch.einsum("bld,ad->bla", e, W1 + W3)  # [B, L, A]: once per history step
        k = torch.einsum("bcd,ad->bca", e_a, W2 - W3) + first.bias  # [B, C, A]: once per candidate
        qk = torch.einsum("bld,bcd,ad->bcla", e, e_a, W4)  # [B, C, L, A]: W4 (e_j * v_A)
        z = qk + q[:, None] + k[:, :, None]
        w = self.att[1:](z).squeeze(-1)  # [B, C, L]
        return w * mask[:, None, :].float()

    def forward(self, hist: torch.Tensor, lens: torch.Tensor, items: torch.Tensor, *, trace: bool = False):
        mask = hist > 0  # [B, L]
        e = self.embed(hist)  # [B, L, D]
        e_a = self.embed(items)  # [B, C, D]
        w = self.attention(e, mask, e_a)  # [B, C, L]
        v = torch.einsum("bcl,bld->bcd", w, e)  # v_U(A) = sum_j w_j e_j   (eq. 3)
        s = self.mean_pool(e, mask)[:, None, :].expand_as(e_a)  # [B, C, D]
        logits = self.head(e_a, s, e_a * s, v)  # [B, C]
        return (logits, {"attention": w}) if trace else logits
