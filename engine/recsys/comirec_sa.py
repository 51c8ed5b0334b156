"""ComiRec-SA: Cen, Zhang, Zou, Zhou, Yang and Tang, "Controllable Multi-Interest Framework for
Recommendation", KDD 2020 (arXiv:2005.09347), section 3.2, self-attentive multi-interest.

H [d, n] holds the history's embeddings plus trainable position embeddings. K attention heads
(Lin et al. 2017 structured self-attention):

    A   = softmax(W_2^T tanh(W_1 H))^T                     (eq. 6; W_1 [d_a, d], W_2 [d_a, K]; softmax over positions)
    V_u = H A                                              (eq. 7; K interest vectors)

and, as ComiRec-DR, the interest closest to the target is trained (eq. 8) with the softmax loss.

Choices of ours (following the authors' code): position embeddings enter the attention scores,
the interests average the item embeddings without them; d_a = 4 d; padded positions get no weight.
The trace has "attention" [B, K, L] and "couplings" = its transpose [B, L, K] (sums to one over L,
not over interests), one entry each since there is no iteration; there are no capsules.

Remedy for interest collapse (default; `paper_faithful` turns it off; bench/interest_collapse.md):
the K heads of eq. 6 are global, so two heads often land on a user's dominant topic and a minor
topic is left out. Seeded attention adds to head k's score at position l a learned beta (start 5)
times cos(e_l, e_{c_k}), where c_1..c_K are K behaviours spread over the history (farthest-point
seeding, base.farthest_behaviours): head k leans toward the behaviours like its own seed.
Validation: synthetic (seed 0) topic coverage 0.67 -> 0.73, Recall@50 0.767 -> 0.776; ML-100K
(seeds 0-2) Recall@50 0.369 -> 0.383. A squared-cosine penalty between the interests (base.interest_overlap,
`interest_reg`) was tried and rejected: coverage 0.72 but Recall@50 0.748 (synthetic), 0.359 (ML-100K).
"""
from __future__ import annotations

import torch
from torch import nn

from engine.errors import ConfigError
from engine.recsys.base import RecModel, UserEncoding, einsum_step, farthest_behaviours, valid_positions
from engine.recsys.comirec_dr import argmax_readout


SEED_GAIN = 5.0  # starting beta of the seeded attention (the remedy); learned


class ComiRecSA(RecModel):
    name = "comirec-sa"
    multi_interest = True

    def __init__(self, n_items: int, dim: int = 64, maxlen: int = 20, *, k: int = 4, seeded: bool = False, **kw) -> None:
        kw.pop("iterations", None)
        super().__init__(n_items, dim, maxlen, **kw)
        self.k, self.seeded = int(k), bool(seeded)
        self.seed_gain = nn.Parameter(torch.tensor(SEED_GAIN)) if self.seeded else None  # beta of the remedy
        d_a = 4 * dim
        self.pos_emb = nn.Parameter(torch.randn(maxlen, dim) * dim**-0.5)  # [L, d]
        self.W1 = nn.Parameter(torch.randn(dim, d_a) * dim**-0.5)  # W_1 [d, a]
        self.W2 = nn.Parameter(torch.randn(d_a, k) * d_a**-0.5)  # W_2 [a, K]

    def encode(self, hist, lens, *, target=None, trace=False, iterations=None, k=None) -> UserEncoding:
        K = int(k or self.k)
        if not 1 <= K <= self.k:
            raise ConfigError(f"ComiRec-SA has one attention head per interest and was trained with K = {self.k}; pick K between 1 and {self.k}.")
        B, L = hist.shape
        if L > self.pos_emb.shape[0]:
            raise ConfigError(f"This ComiRec-SA was trained with histories of at most {self.pos_emb.shape[0]} items; got {L}.")
        valid = valid_positions(hist)  # [B, L]
        e = self.embed_history(hist)  # [B, L, d]
        H = e + self.pos_emb[:L]  # [B, L, d]
        hidden = torch.tanh(torch.einsum("bld,da->bla", H, self.W1))  # tanh(W_1 H), [B, L, a]
        scores = torch.einsum("bla,ak->blk", hidden, self.W2[:, :K])  # W_2^T tanh(W_1 H), [B, L, K]
        if self.seeded:  # the remedy: head k also attends to behaviours like the k-th of K spread-out seeds
            en = torch.nn.functional.normalize(e, dim=-1)  # e_l / |e_l|, [B, L, d]
            seeds = farthest_behaviours(en.detach(), valid, valid.sum(1), K, normalized=True)  # [B, K]
            anchor = en[torch.arange(B)[:, None], seeds]  # [B, K, d]
            scores = scores + self.seed_gain * torch.einsum("bld,bkd->blk", en, anchor)  # + beta cos(e_l, e_{c_k})
        scores = scores.masked_fill(~valid[:, :, None], -float("inf"))
        A = torch.softmax(scores, dim=1)  # eq. 6, softmax over positions l, [B, L, K]
        V = torch.einsum("blk,bld->bkd", A, e)  # V_u = H A, eq. 7, [B, K, d]
        tr = None
        if trace:
            tr = {
                "logits": [scores.detach()],
                "attention": A.detach().transpose(1, 2),  # [B, K, L]
                "couplings": [A.detach()],  # [B, L, K]
                "steps": [
                    einsum_step("hidden layer", "eq. 6: tanh(W_1 H)", "bld,da->bla", H=H, W1=self.W1),
                    einsum_step("attention scores", "eq. 6: W_2^T tanh(W_1 H)", "bla,ak->blk", hidden=hidden, W2=self.W2[:, :K]),
                    einsum_step("attention over positions", "eq. 6: A = softmax(...)^T", "blk->blk", scores=scores),
                    einsum_step("interests", "eq. 7: V_u = H A", "blk,bld->bkd", A=A, e=e),
                ],
            }
        return UserEncoding(vectors=V, mask=torch.ones(B, K, dtype=torch.bool, device=hist.device), trace=tr)

    def train_readout(self, enc, target):
        return argmax_readout(enc.vectors, self.item_emb(target), enc.mask)  # eq. 8
