"""DIEN: Zhou et al., "Deep Interest Evolution Network for Click-Through Rate Prediction", AAAI 2019.

Behaviour layer: the history's embeddings e_b[1..T] (id + category, see base.py), target e_a.

Interest extractor layer (section 4.2): a GRU reads the behaviours,

    u_t = sigma(W^u i_t + U^u h_{t-1} + b^u)                 (update gate)
    r_t = sigma(W^r i_t + U^r h_{t-1} + b^r)                 (reset gate)
    h~_t = tanh(W^h i_t + r_t o U^h h_{t-1} + b^h)
    h_t = (1 - u_t) o h_{t-1} + u_t o h~_t                   (i_t = e_b[t]; torch's nn.GRU)

and the auxiliary loss (eq. 6) makes h_t predict the NEXT behaviour e_b[t+1] against one sampled
negative e^_b[t+1] (never e_b[t+1] itself), with sigma(x1, x2) = 1 / (1 + exp(-<x1, x2>)):

    L_aux = -1/N sum_i sum_t [ log sigma(h_t^i, e_b^i[t+1]) + log(1 - sigma(h_t^i, e^_b^i[t+1])) ]   (eq. 6)
    L = L_target + alpha * L_aux                                                                   (eq. 7)

Here t runs over real steps only (t + 1 < length): padding never enters, and the mean is over the
real (h_t, e_b[t+1]) pairs. The inner product needs h_t and e the same size, so the GRU's hidden
size is the embedding size D.

Interest evolving layer (section 4.3): attention of each extracted interest on the target,

    a_t = exp(h_t W e_a) / sum_{j=1}^{T} exp(h_j W e_a)      (softmax over the REAL steps only)

then a second GRU over h_1..h_T whose update is steered by a_t; three ways, the paper's ablations:

    AIGRU:  i'_t = h_t * a_t                                  (attention scales the input)
    AGRU:   h'_t = (1 - a_t) * h'_{t-1} + a_t * h~'_t         (attention replaces the update gate)
    AUGRU:  u~'_t = a_t * u'_t                                (eq. 12)
            h'_t = (1 - u~'_t) o h'_{t-1} + u~'_t o h~'_t     (eq. 13)

h'_0 = 0; a padded step has a_t = 0 and keeps the state (also for AIGRU, by masking), so h'_T is
the state after the last real behaviour. The MLP reads [e_a ; s_u ; e_a * s_u ; h'_T] (s_u the
mean-pooled history), the authors' input layout (DIEN repository, `Model_DIN_V2_Gru_Vec_attGru_Neg`).

Scoring C candidates for one history runs the extractor (and the evolving layer's input projection
W i'_t) once per history, and only the recurrent part once per (history, candidate).
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from engine.rank.base import Ranker

EVOLUTIONS = ("augru", "agru", "aigru")


class InterestEvolution(nn.Module):
    """The second GRU with attention (AUGRU, AGRU or AIGRU); gates in the order u (update), r (reset), h."""

    def __init__(self, dim: int, kind: str = "augru") -> None:
        super().__init__()
        if kind not in EVOLUTIONS:
            raise ValueError(f"evolution must be one of {EVOLUTIONS}, not {kind!r}")
        self.kind, self.H = kind, int(dim)
        self.W = nn.Linear(dim, 3 * dim, bias=False)  # W^u, W^r, W^h on the input i'_t
        self.b = nn.Parameter(torch.zeros(3 * dim))  # b^u, b^r, b^h
        self.U = nn.Linear(dim, 3 * dim, bias=False)  # U^u, U^r, U^h on h'_{t-1}

    def step(self, wi: torch.Tensor, h_prev: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """One step: wi = W i'_t + b [N, 3H], h'_{t-1} [N, H], a_t [N] -> (h'_t [N, H], update gate u'_t [N, H])."""
        uh = self.U(h_prev)  # [N, 3H]
        wu, wr, wh = wi.chunk(3, -1)
        Uu, Ur, Uh = uh.chunk(3, -1)
        u = torch.sigmoid(wu + Uu)  # u'_t
        r = torch.sigmoid(wr + Ur)  # r'_t
        h_tilde = torch.tanh(wh + r * Uh)  # h~'_t
        a = a[:, None]
        if self.kind == "augru":
            u_att = a * u  # u~'_t = a_t * u'_t                                  (eq. 12)
            h = (1 - u_att) * h_prev + u_att * h_tilde  #                          (eq. 13)
        elif self.kind == "agru":
            h = (1 - a) * h_prev + a * h_tilde
        else:  # aigru: the attention already scaled the input inside wi
            h = (1 - u) * h_prev + u * h_tilde
        return h, u

    def forward(self, h: torch.Tensor, a: torch.Tensor, mask: torch.Tensor, trace: bool = False):
        """h [B, L, H] extracted interests, a [B, C, L] attention, mask [B, L] -> h'_T [B, C, H] (and the trace)."""
        B, L, H = h.shape
        C = a.shape[1]
        Wh = self.W(h)  # [B, L, 3H]: once per history
        if self.kind == "aigru":  # W (h_t * a_t) = a_t * (W h_t): still one projection per history
            wi = torch.einsum("blg,bcl->bclg", Wh, a) + self.b  # [B, C, L, 3H]
        else:
            wi = (Wh + self.b)[:, None].expand(B, C, L, 3 * H)
        wi = wi.reshape(B * C, L, 3 * H)
        a_n = a.reshape(B * C, L)
        m = mask[:, None, :].expand(B, C, L).reshape(B * C, L)
        state = h.new_zeros(B * C, H)  # h'_0 = 0
        states, gates = [], []
        for wi_t, a_t, m_t in zip(wi.unbind(1), a_n.unbind(1), m.unbind(1)):
            new, u = self.step(wi_t, state, a_t)
            state = torch.where(m_t[:, None], new, state)  # a padded step keeps the state
            if trace:
                states.append(state)
                gates.append(u)
        out = state.reshape(B, C, H)
        if not trace:
            return out
        return out, {"h_evolved": torch.stack(states, 1).reshape(B, C, L, H), "u": torch.stack(gates, 1).reshape(B, C, L, H)}


class DIEN(Ranker):
    name = "dien"

    def __init__(self, n_items: int, item_category, *, evolution: str = "augru", aux_weight: float = 1.0, **kw) -> None:
        super().__init__(n_items, item_category, **kw)
        D = self.e_dim
        self.extractor = nn.GRU(D, D, batch_first=True)  # interest extractor, hidden size = D for eq. 6
        self.W_att = nn.Parameter(torch.randn(D, D) * D**-0.5)  # W in a_t = softmax(h_t W e_a)
        self.evolution = InterestEvolution(D, evolution)
        self.aux_weight = float(aux_weight)
        self.build_mlp(4 * D)

    def extract(self, hist: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Behaviour embeddings e_b [B, L, D] and interest states h_t [B, L, D]. The GRU looks back only and
        padding sits on the right, so h_t at a real step never reads padding."""
        e = self.embed(hist)
        h, _ = self.extractor(e)
        return e, h

    def attention(self, h: torch.Tensor, mask: torch.Tensor, e_a: torch.Tensor) -> torch.Tensor:
        """a_t = softmax_t(h_t W e_a) over real steps: [B, C, L], exactly 0 at padding, sums to 1 per (b, c)."""
        logits = torch.einsum("blh,hd,bcd->bcl", h, self.W_att, e_a)  # [B, C, L]
        logits = logits.masked_fill(~mask[:, None, :], float("-inf"))
        return torch.softmax(logits, dim=-1).nan_to_num(0.0)  # a history with no real step: all 0

    def forward(self, hist: torch.Tensor, lens: torch.Tensor, items: torch.Tensor, *, trace: bool = False, _extracted=None):
        mask = hist > 0  # [B, L]
        e, h = _extracted if _extracted is not None else self.extract(hist)
        e_a = self.embed(items)  # [B, C, D]
        a = self.attention(h, mask, e_a)  # [B, C, L]
        ev = self.evolution(h, a, mask, trace=trace)
        h_T, tr = ev if trace else (ev, None)  # h'_T [B, C, D]
        s = self.mean_pool(e, mask)[:, None, :].expand_as(e_a)  # [B, C, D]
        logits = self.head(e_a, s, e_a * s, h_T)  # [B, C]
        if not trace:
            return logits
        return logits, {"attention": a, "h": h, **tr, "u_att": a[..., None] * tr["u"]}

    def aux_loss(self, h: torch.Tensor, e: torch.Tensor, hist: torch.Tensor, neg_hist: torch.Tensor) -> torch.Tensor:
        """Eq. 6: h_t against the next behaviour e_b[t+1] (positive) and neg_hist[:, t+1] (its sampled negative),
        over real pairs only. neg_hist [B, L] is aligned with hist: neg_hist[:, j] is the negative for hist[:, j]."""
        h_t = h[:, :-1]  # [B, L-1, D]: h_1 .. h_{T-1}
        e_next = e[:, 1:]  # [B, L-1, D]: e_b[2] .. e_b[T]
        e_neg = self.embed(neg_hist[:, 1:])  # [B, L-1, D]
        real = (hist[:, 1:] > 0).float()  # the pair (h_t, e_b[t+1]) exists only when step t+1 is real
        pos = F.logsigmoid(torch.einsum("bld,bld->bl", h_t, e_next))  # log sigma(h_t, e_b[t+1])
        neg = F.logsigmoid(-torch.einsum("bld,bld->bl", h_t, e_neg))  # log(1 - sigma(h_t, e^_b[t+1]))
        return -((pos + neg) * real).sum() / real.sum().clamp(min=1.0)

    def loss(self, hist, lens, items, labels, aux_negatives=None, log_q=None) -> tuple[torch.Tensor, dict]:
        e, h = self.extract(hist)
        logits = self(hist, lens, items, _extracted=(e, h))
        target = self.target_loss(logits, labels, log_q)
        parts = {"target": float(target.detach())}
        if self.aux_weight > 0 and aux_negatives is not None:
            aux = self.aux_loss(h, e, hist, aux_negatives)
            parts["aux"] = float(aux.detach())
            return target + self.aux_weight * aux, parts  # eq. 7
        return target, parts
