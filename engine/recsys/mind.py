"""MIND: Li, Liu, Wu, Xu, Huang, Zhao, Kang, Chen, Li and Lee, "Multi-Interest Network with Dynamic
Routing for Recommendation at Tmall", CIKM 2019 (arXiv:1904.08030), section 3.

Behaviour capsules c_i^l = e_i (the history's item embeddings) are routed to K interest capsules
u_j = c_j^h by behaviour-to-interest (B2I) dynamic routing, section 3.3.2 and Algorithm 1
(eq. 4-7 of section 3.3.1, with the shared map of eq. 8):

    b_ij = u_j^T S e_i                                     (eq. 8; ONE bilinear map S for all i, j)
    w_ij = exp(b_ij) / sum_{k=1..K} exp(b_ik)              (eq. 5; softmax over interests j)
    z_j  = sum_i w_ij S e_i                                (eq. 6)
    u_j  = squash(z_j) = |z_j|^2/(1+|z_j|^2) z_j/|z_j|     (eq. 7)

Algorithm 1 starts the routing logits b_ij from a Gaussian N(0, sigma^2) (not from zero as capsule
networks do: S is shared, so zero logits would give every interest the same capsule) and runs r
iterations (default 3), adding u_j^T S e_i to b_ij after each one. The dynamic interest count is

    K'_u = max(1, min(K, log2 |I_u|))                      (eq. 9; floor of log2, |I_u| = behaviours)

and training reads the interests through label-aware attention with the target item's embedding e_i
(section 3.4; the paper gives this equation no number):

    v_u = V_u softmax(pow(V_u^T e_i, p))                   (section 3.4)

pow(.) of a possibly negative score is undefined for fractional p; we read it as
softmax(p * V_u^T e_i), which equals pow(softmax(V_u^T e_i), p) renormalised: p = 0 averages the
interests, larger p sharpens, p = inf picks the best interest (hard attention). Then
Pr(i|u) = exp(v_u^T e_i) / sum_j exp(v_u^T e_j) (eq. 10) and the loss is -sum log Pr(i|u) (eq. 11).
At serving the K' interests each retrieve items (section 3.5).

Scale of the routing (a choice of ours, measured on synthetic data with planted topics). The
paper leaves sigma and the scale of S open. Routing only sorts behaviours when the agreements
u_j^T S e_i (|u_j| < 1) outweigh the Gaussian start within r = 3 iterations, and softmax training
never asks for that: the logit updates carry no gradient, and squash saturates. With S ~ N(0, 1/d)
(|S e_i| ~ |e_i| ~ 1) and sigma = 1, the couplings barely leave their random start: ARI 0.11
against the planted topics, k-means on the same embeddings 0.51. Two things set the outcome: how
fast the small differences between interests grow (each iteration multiplies them by about
|S e_i|), and how hard each behaviour's own random start b_ij ~ N(0, sigma^2) pulls it toward an
arbitrary interest. So S starts as a map that lengthens e_i about S_GAIN = 12 times, S is exempt
from weight decay (it would shrink that scale away), and sigma = 0.01, just enough to break the
symmetry of the shared S. At r = 3, on well-separated topics, routing then matches k-means:
validation users of three fresh data draws (seeds 3-5), ARI 0.56 against k-means' 0.54 (S_GAIN 6
with sigma 0.1: 0.47; 12 with 0.03: 0.53; 24 with 0.01: 0.54). ML-100K validation Recall@50 did
not drop (0.364 -> 0.371, mean of seeds 0-2). The price: after 3 iterations the couplings stay soft. The mean
largest w_ij of a behaviour is 0.30-0.36 (K'_u = 3-4) where sigma 0.1 gives 0.46-0.70; the argmax
sorts the behaviours, the weights have not committed yet (more iterations commit them). Making
them commit within 3 iterations costs the sorting: with S_GAIN and sigma retrained on the same
validation draws, (12, 0.01) gives ARI 0.56 at mean largest w_ij 0.31; (12, 0.03) 0.53 at 0.39;
(24, 0.03) 0.42 at 0.57; (48, 0.01) 0.41 at 0.60; (24, 0.1) 0.40 at 0.73. Routing from a random
start is a power iteration: the longer it stays near uniform, the more the topics' structure, not
the start, decides where each behaviour goes.

After routing, MIND (fig. 2, section 3.3) concatenates each capsule with the user profile and transforms it by
ReLU layers into the user representation vectors v_u^j; there are no profile features here, so
the layers read the capsule alone: v_j = u_j + W_b ReLU(W_a u_j) (a residual form that starts as the
capsule itself; without it the user vectors would stay shorter than 1, as squashed capsules are). In training the Gaussian logits are
drawn afresh for every batch; at inference they are a fixed draw kept in the state dict, so a user's
interests never depend on the batch they are encoded with. As in ComiRec's code, the logit
updates do not carry gradients (only the last iteration's z_j does). Padded behaviours route nowhere
(w_ij = 0), and interests beyond K'_u get no behaviours (a zero capsule, mask False).

Interest collapse and its remedy (protocol S1; numbers and everything tried: bench/interest_collapse.md).
As written, routing from a near-uniform start leaves each behaviour split almost evenly after
r = 3 iterations, so every z_j is about the same weighted mean and the K interests coincide: test
users' mean interest cosine 0.98 on ML-100K, 0.91 on synthetic data, where they cover half of a
user's planted topics. The remedy, on by default (`paper_faithful=True` / `--paper-faithful` turns
it off), changes two things the paper leaves open:
  - seeded routing: the logits start as b_ij = u_j^(0)T S e_i (eq. 8's agreement) with
    u_j^(0) = squash(S e_{c_j}) for K behaviours c_1..c_K spread over the history: the most recent
    one, then each time the behaviour least similar to those picked (farthest-point seeding, the
    seeding of k-means++, Arthur and Vassilvitskii, SODA 2007, without the dice); eq. 5-8 then run
    as written. Routing is a clustering of the behaviours; started from noise it finds one cluster,
    started from K spread-out behaviours it finds K.
  - hard label-aware attention, p = inf (section 3.4: "p -> inf, hard attention"): in training each
    target is explained by its closest interest alone, as ComiRec's eq. 8 does, so each interest is
    trained as a retriever on its own, the way it is served.
On validation users: synthetic (seed 0) Recall@50 0.724 -> 0.766, interest cosine 0.87 -> 0.15,
topic coverage 0.49 -> 0.79; ML-100K (seeds 0-1) cosine 0.82 -> 0.28 at Recall@50 0.379 -> 0.355:
on ML-100K distinct interests cost recall, since the collapsed MIND is a mean-pooling model there.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from engine.errors import ConfigError
from engine.recsys.base import RecModel, UserEncoding, einsum_step, farthest_behaviours, squash, valid_positions

MAX_K = 8  # S is shared, so any K up to this works at inference
S_GAIN = 12.0  # S starts as a map that lengthens e_i about this many times (see the module docstring)


def dynamic_interest_count(n_behaviours, K: int):
    """Eq. 9: K'_u = max(1, min(K, floor(log2 |I_u|))); works on an int or a tensor of counts."""
    if isinstance(n_behaviours, torch.Tensor):
        n = n_behaviours.clamp(min=1).double()
        return torch.clamp(torch.floor(torch.log2(n)), min=1, max=K).long()
    return max(1, min(int(K), int(math.floor(math.log2(max(1, int(n_behaviours)))))))


def label_aware_attention(interests: torch.Tensor, target_emb: torch.Tensor, p: float, mask: torch.Tensor | None = None):
    """Section 3.4: v_u = V_u softmax(pow(V_u^T e_i, p)) -> (user_vec [B, d], weights [B, K]).

    interests V_u [B, K, d], target_emb e_i [B, d], mask [B, K] (False = not an interest of this user).
    Read as softmax(p * V_u^T e_i) (see the module docstring); p = inf is hard attention (argmax).
    """
    scores = torch.einsum("bkd,bd->bk", interests, target_emb)  # V_u^T e_i, [B, K]
    if not math.isinf(p):
        scores = p * scores  # before masking: p = 0 times -inf would be nan
    if mask is not None:
        scores = scores.masked_fill(~mask, -float("inf"))
    if math.isinf(p):
        weights = torch.nn.functional.one_hot(scores.argmax(1), scores.shape[1]).to(interests.dtype)
    else:
        weights = torch.softmax(scores, dim=1)  # [B, K]
    return torch.einsum("bk,bkd->bd", weights, interests), weights


class MIND(RecModel):
    name = "mind"
    multi_interest = True

    def __init__(
        self,
        n_items: int,
        dim: int = 64,
        maxlen: int = 20,
        *,
        k: int = 4,
        iterations: int = 3,
        p: float = 2.0,
        sigma: float = 0.01,
        dynamic_k: bool = True,
        couple_temp: float = 1.0,
        seeded: bool = False,
        **kw,
    ) -> None:
        super().__init__(n_items, dim, maxlen, **kw)
        self.couple_temp, self.seeded = float(couple_temp), bool(seeded)
        if not 1 <= k <= MAX_K:
            raise ConfigError(f"MIND's interest count K must be between 1 and {MAX_K}; got {k}.")
        self.k, self.iterations, self.p, self.sigma, self.dynamic_k = int(k), int(iterations), float(p), float(sigma), bool(dynamic_k)
        self.S = nn.Parameter(torch.randn(dim, dim) * S_GAIN * dim**-0.5)  # the shared bilinear map S [d, e]
        self.H = nn.Sequential(nn.Linear(dim, 2 * dim), nn.ReLU(), nn.Linear(2 * dim, dim))  # the ReLU layers after routing (fig. 2)
        nn.init.zeros_(self.H[2].weight)
        nn.init.zeros_(self.H[2].bias)
        self.register_buffer("b_init", torch.randn(maxlen, MAX_K) * self.sigma)  # fixed N(0, sigma^2) draw for inference

    def no_weight_decay(self) -> set[str]:
        return {"S"}  # weight decay would undo S_GAIN, the routing's scale

    def encode(self, hist, lens, *, target=None, trace=False, iterations=None, k=None) -> UserEncoding:
        K = int(k or self.k)
        r = int(iterations or self.iterations)
        if not 1 <= K <= MAX_K:
            raise ConfigError(f"MIND can use between 1 and {MAX_K} interests; got {K}.")
        if r < 1:
            raise ConfigError(f"Routing needs at least 1 iteration; got {r}.")
        B, L = hist.shape
        valid = valid_positions(hist)  # [B, L]
        e = self.embed_history(hist)  # behaviour capsules e_i, [B, L, d]
        Se = torch.einsum("bld,de->ble", e, self.S)  # S e_i, [B, L, e]
        Se_fixed = Se.detach()  # routing-logit updates carry no gradient
        n_beh = valid.sum(1)  # |I_u|, [B]
        k_u = dynamic_interest_count(n_beh, K) if self.dynamic_k else torch.full_like(n_beh, K)  # K'_u, eq. 9
        interest_mask = torch.arange(K, device=hist.device)[None, :] < k_u[:, None]  # [B, K]

        if self.seeded:  # the remedy: start from K behaviours spread over the history, not from noise
            seeds = farthest_behaviours(Se_fixed, valid, n_beh, K)  # [B, K]
            u0 = squash(Se_fixed[torch.arange(B)[:, None], seeds])  # [B, K, e]
            b = torch.einsum("bke,ble->blk", u0, Se_fixed)  # b_ij = u_j^T S e_i with u_j from the seeds (eq. 8)
        elif self.training:
            b = torch.randn(B, L, K, device=hist.device) * self.sigma  # b_ij ~ N(0, sigma^2), Algorithm 1
        else:
            if L > self.b_init.shape[0]:
                raise ConfigError(f"This MIND was trained with histories of at most {self.b_init.shape[0]} items; got {L}.")
            b = self.b_init[:L, :K].expand(B, L, K).clone()  # [B, L, K]
        tr = {"logits": [], "couplings": [], "capsule_lengths": [], "steps": []} if trace else None
        if trace:
            tr["steps"].append(einsum_step("map behaviours with the shared S", "eq. 6, 8: S e_i", "bld,de->ble", e=e, S=self.S))

        for it in range(r):
            last = it == r - 1
            logits = b / self.couple_temp if last else b  # the remedy sharpens the last couplings (temperature < 1)
            w = torch.softmax(logits.masked_fill(~interest_mask[:, None, :], -float("inf")), dim=2)  # w_ij, eq. 5, over j
            w = w * valid[:, :, None]  # padded behaviours route nowhere, [B, L, K]
            z = torch.einsum("blk,ble->bke", w, Se if last else Se_fixed)  # z_j = sum_i w_ij S e_i, eq. 6, [B, K, e]
            u = squash(z)  # u_j, eq. 7, [B, K, e]; zero for interests beyond K'_u
            if trace:
                tr["logits"].append(b.detach().clone())
                tr["couplings"].append(w.detach())
                tr["capsule_lengths"].append(u.detach().norm(dim=-1))  # [B, K]
                if it == 0:
                    tr["steps"].append(einsum_step("couple behaviours to interests", "eq. 5: w_ij = softmax_j(b_ij)", "blk->blk", b=b))
                    tr["steps"].append(einsum_step("weighted sum into interests", "eq. 6: z_j = sum_i w_ij S e_i", "blk,ble->bke", w=w, Se=Se))
                    tr["steps"].append(einsum_step("squash", "eq. 7: u_j = squash(z_j)", "bke->bke", z=z))
                    if r > 1:
                        tr["steps"].append(einsum_step("agreement updates the logits", "eq. 8: b_ij += u_j^T S e_i", "bke,ble->blk", u=u, Se=Se))
            if not last:
                b = b + torch.einsum("bke,ble->blk", u.detach(), Se_fixed)  # b_ij += u_j^T S e_i, eq. 8

        V = (u + self.H(u)) * interest_mask[:, :, None]  # user vectors v_j (fig. 2); zero beyond K'_u, [B, K, d]
        if trace and target is not None:
            te = self.item_emb(target)
            _, att = label_aware_attention(V, te, self.p, interest_mask)
            tr["label_attention"] = att.detach()
            tr["steps"].append(einsum_step("label-aware attention", "section 3.4: v_u = V_u softmax(pow(V_u^T e_i, p))", "bkd,bd->bk", V=V, e_i=te))
        return UserEncoding(vectors=V, mask=interest_mask, trace=tr)

    def train_readout(self, enc, target):
        v, _ = label_aware_attention(enc.vectors, self.item_emb(target), self.p, enc.mask)  # label-aware attention, section 3.4
        return v
