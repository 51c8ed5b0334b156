"""What every recall model answers (RecBole's uniform interface, kept small).

A model turns a left-aligned history `hist` [B, L] (item indices, 0 = padding on the right) and its
lengths `lens` [B] into K user vectors (`encode`), scores items by inner product with the one item
table `item_emb` (input and output embeddings are shared), and trains with `loss`:

- "softmax": listwise softmax over every item, nn.CrossEntropyLoss on the target's index
  (YouTubeDNN section 3.1; MIND eq. 10-11; ComiRec eq. 9-10). Padding is never a class. With
  `mask_history` the items already in the history are left out of the softmax as well: under R1
  they are excluded at retrieval time, so the loss spends nothing on ranking them.
- "sampled": sampled softmax for large catalogues: the other targets in the batch plus
  `n_negatives` items drawn by popularity, each logit corrected by -log Q(item) (the logQ
  correction of Yi et al., RecSys 2019, for in-batch negatives; Jean et al., ACL 2015, for
  sampled ones), the target included, so the estimate stays unbiased toward popular items.
  Its cost grows with B x (B + n_negatives), never with the catalogue: from `SPARSE_ITEMS_FROM`
  items on, the item table also gets sparse gradients (only the rows a batch touches; the trainer
  then steps it with SparseAdam, engine/recsys/optim.py), since a dense [I+1, d] gradient and Adam
  update per step would cost O(I d) again.

The full softmax materialises a [B, I+1] logit matrix (and as much for its gradient and the
history mask); above `FULL_SOFTMAX_MAX_BYTES` for the logits alone it refuses with a ConfigError
that says the cost, before allocating anything.

How a multi-interest model picks one vector for the target in training is its own
(`train_user_vector`): MIND's label-aware attention, ComiRec's argmax.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

from engine.errors import ConfigError


FULL_SOFTMAX_MAX_BYTES = 1 << 30  # float32 [B, I+1] logits above 1 GiB: use the sampled softmax
SPARSE_ITEMS_FROM = 100_000  # sampled softmax with at least this many items: sparse item-table gradients


def full_softmax_bytes(batch: int, n_classes: int) -> int:
    """Bytes of one float32 [batch, n_classes] logit matrix (the gradient and the mask come on top)."""
    return int(batch) * int(n_classes) * 4


def check_full_softmax(batch: int, n_classes: int) -> None:
    """Refuse a full softmax whose logit matrix alone would exceed FULL_SOFTMAX_MAX_BYTES."""
    need = full_softmax_bytes(batch, n_classes)
    if need > FULL_SOFTMAX_MAX_BYTES:
        raise ConfigError(
            f"A full softmax over {n_classes - 1:,} items with batch {batch} needs a [{batch}, {n_classes:,}] logit matrix: "
            f"{batch} x {n_classes:,} x 4 bytes = {need / 2**30:.1f} GiB of float32, about 3 times that with its gradient and "
            f"the history mask, on every step (the limit is {FULL_SOFTMAX_MAX_BYTES / 2**30:.0f} GiB). Use --loss sampled "
            f"(sampled softmax with logQ correction), or a batch below {max(1, FULL_SOFTMAX_MAX_BYTES // (4 * n_classes))}."
        )


@dataclass
class UserEncoding:
    """K vectors per user (K = 1 for single-vector models), which of them are real, and the trace."""

    vectors: torch.Tensor  # [B, K, d]
    mask: torch.Tensor  # [B, K] bool: valid interests (MIND's dynamic count leaves some False)
    trace: dict | None = None


def valid_positions(hist: torch.Tensor) -> torch.Tensor:
    """[B, L] bool: True where the history holds an item (padding is index 0)."""
    return hist > 0


def einsum_step(name: str, equation: str, spec: str, **operands: torch.Tensor) -> dict:
    """One traced step: its name, the paper's equation, the einsum and the live operand shapes."""
    return {
        "name": name,
        "equation": equation,
        "einsum": spec,
        "shapes": {k: tuple(int(s) for s in v.shape) for k, v in operands.items()},
    }


def dropout(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Inverted dropout, as nn.Dropout, with its mask drawn by torch.rand: on CPU that is about 3 times
    faster than nn.Dropout's bernoulli_ (6 ms of a 28 ms ComiRec-SA step on [512, 20, 64])."""
    if not training or p <= 0.0:
        return x
    keep = torch.rand(x.shape, device=x.device).ge_(p).mul_(1.0 / (1.0 - p))  # 0 or 1/(1-p), built in place
    return x * keep  # one product forward and backward; the same numbers as x * mask * (1/(1-p))


def squash(z: torch.Tensor, dim: int = -1, eps: float = 1e-9) -> torch.Tensor:
    """Capsule squash (Sabour et al. 2017 eq. 1): ||z||^2 / (1 + ||z||^2) * z / ||z||; length in [0, 1)."""
    sq = (z * z).sum(dim, keepdim=True)
    return sq / (1.0 + sq) * z / torch.sqrt(sq + eps)


def interest_overlap(vectors: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Mean squared cosine between a user's active interests, over users with >= 2 of them (0 when
    they are orthogonal, 1 when they coincide). vectors [B, K, d], mask [B, K]."""
    v = F.normalize(vectors, dim=-1)
    cos2 = torch.einsum("bkd,bjd->bkj", v, v).square()  # [B, K, K]
    pair = mask[:, :, None] & mask[:, None, :]
    pair = pair & ~torch.eye(mask.shape[1], dtype=torch.bool, device=mask.device)
    n = pair.sum((1, 2))  # [B] ordered pairs
    keep = n > 0
    if not keep.any():
        return vectors.new_zeros(())
    per_user = (cos2 * pair).sum((1, 2))[keep] / n[keep]
    return per_user.mean()


@torch.no_grad()
def farthest_behaviours(x: torch.Tensor, valid: torch.Tensor, lens: torch.Tensor, K: int, normalized: bool = False) -> torch.Tensor:
    """[B, K] positions of K behaviours spread over the history (farthest-point seeding, as k-means++
    without the dice): the most recent behaviour first, then each time the one least similar (cosine)
    to every behaviour picked so far. x [B, L, e] (`normalized`: already unit length), valid [B, L], lens [B]."""
    B, L, _ = x.shape
    xn = x if normalized else F.normalize(x, dim=-1)
    sim = torch.einsum("ble,bme->blm", xn, xn)  # cosine between behaviours, [B, L, L]
    rows = torch.arange(B, device=x.device)
    picked = [(lens.clamp(min=1) - 1).long()]  # the most recent behaviour, [B]
    closest = sim[rows, picked[0]]  # [B, L]: similarity to the nearest picked behaviour
    for _ in range(1, K):
        nxt = closest.masked_fill(~valid, float("inf")).argmin(1)  # [B]
        picked.append(nxt)
        closest = torch.maximum(closest, sim[rows, nxt])
    return torch.stack(picked, 1)


class RecModel(nn.Module):
    """Base of every recall model: item table, loss, item vectors; subclasses write `encode`."""

    name: str = "base"
    multi_interest: bool = False

    def __init__(
        self,
        n_items: int,
        dim: int = 64,
        maxlen: int = 20,
        *,
        loss: str = "softmax",
        n_negatives: int = 256,
        mask_history: bool = True,
        dropout: float = 0.0,
        interest_reg: float = 0.0,
    ) -> None:
        super().__init__()
        self.interest_reg = float(interest_reg)
        self.n_items, self.dim, self.maxlen = int(n_items), int(dim), int(maxlen)
        self.loss_kind = loss
        self.n_negatives = int(n_negatives)
        self.mask_history = bool(mask_history)
        sparse = loss == "sampled" and self.n_items >= SPARSE_ITEMS_FROM
        self.item_emb = nn.Embedding(self.n_items + 1, self.dim, padding_idx=0, sparse=sparse)  # [I+1, d], row 0 = padding
        nn.init.normal_(self.item_emb.weight, std=self.dim**-0.5)
        with torch.no_grad():
            self.item_emb.weight[0].zero_()
        self.dropout = float(dropout)
        # log Q(item) of the popularity sampler (sampled softmax); uniform until set_item_counts.
        self.register_buffer("log_q", torch.full((self.n_items + 1,), -float("inf")))
        with torch.no_grad():
            self.log_q[1:] = -torch.log(torch.tensor(float(self.n_items)))

    # -- the interface -----------------------------------------------------------------------
    def encode(
        self,
        hist: torch.Tensor,
        lens: torch.Tensor,
        *,
        target: torch.Tensor | None = None,
        trace: bool = False,
        iterations: int | None = None,
        k: int | None = None,
    ) -> UserEncoding:
        raise NotImplementedError

    def no_weight_decay(self) -> set[str]:
        """Names of parameters the optimiser must not decay (none by default)."""
        return set()

    def item_vectors(self) -> torch.Tensor:
        """[I+1, d]: row r is item index r (row 0, padding, is zero)."""
        return self.item_emb.weight

    def embed_history(self, hist: torch.Tensor) -> torch.Tensor:
        """[B, L] -> [B, L, d] behaviour embeddings e_i, dropout in training, zero at padding."""
        return dropout(self.item_emb(hist), self.dropout, self.training)

    def train_readout(self, enc: UserEncoding, target: torch.Tensor) -> torch.Tensor:
        """[B, d]: the one vector scored against every item in training (single-vector models: the only one)."""
        return enc.vectors[:, 0]

    def train_user_vector(self, hist: torch.Tensor, lens: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.train_readout(self.encode(hist, lens, target=target), target)

    def set_item_counts(self, counts) -> None:
        """Popularity of each item index (training users' counts) for the sampled softmax's sampler."""
        c = torch.as_tensor(counts, dtype=torch.float64).clone() + 1.0  # add-one: every item can be drawn
        c[0] = 0.0  # padding never is
        q = c / c.sum()
        with torch.no_grad():
            self.log_q.copy_(q.log().float())

    def loss(self, hist: torch.Tensor, lens: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """Mean negative log-likelihood of the targets (see the module docstring for the two kinds)."""
        enc = self.encode(hist, lens, target=target)
        user = self.train_readout(enc, target)  # [B, d]
        items = self.item_vectors()  # [I+1, d]
        if self.loss_kind == "sampled":
            nll = self._sampled_softmax(user, items, hist, target)
        else:
            check_full_softmax(user.shape[0], items.shape[0])
            # [B, I+1]: -inf + u.v for the columns that are not classes, 0 + u.v for the others, the
            # product added in place to the fresh bias: no masked copy, and no masking in the backward
            # pass (the softmax's gradient is exactly 0 there)
            logits = self._excluded_bias(hist, target, items.shape[0]).addmm_(user, items.T)
            nll = F.cross_entropy(logits, target)
        if self.multi_interest and self.interest_reg > 0:
            nll = nll + self.interest_reg * interest_overlap(enc.vectors, enc.mask)
        return nll

    # -- helpers -------------------------------------------------------------------------------
    def _excluded_bias(self, hist: torch.Tensor, target: torch.Tensor, n_cols: int) -> torch.Tensor:
        """[B, n_cols] float, added to the logits: -inf at the columns that are not classes (padding;
        history items if mask_history, except the target), 0 elsewhere."""
        bias = torch.zeros(hist.shape[0], n_cols, device=hist.device)
        if self.mask_history:
            bias.scatter_(1, hist, -float("inf"))
            bias[torch.arange(hist.shape[0]), target] = 0.0  # a re-consumed target stays a class
        bias[:, 0] = -float("inf")
        return bias

    def _sampled_softmax(self, user, items, hist, target) -> torch.Tensor:
        b = user.shape[0]
        negatives = torch.multinomial(self.log_q.exp(), self.n_negatives, replacement=True)  # [N]
        cand = torch.cat([target, negatives])  # [B + N]: in-batch targets, then popularity samples
        if self.item_emb.sparse:  # gradient only for the B+N candidate rows
            cand_emb = F.embedding(cand, self.item_emb.weight, sparse=True)
        else:
            cand_emb = items[cand]
        logits = user @ cand_emb.T  # [B, B+N]
        # logQ: in-batch candidates were sampled with the data's popularity too; same Q for both.
        logits = logits - self.log_q[cand][None, :]
        same = cand[None, :] == target[:, None]  # the positive, or a duplicate of it
        same[torch.arange(b), torch.arange(b)] = False
        logits = logits.masked_fill(same, -float("inf"))
        if self.mask_history:
            in_hist = (cand[None, :, None] == hist[:, None, :]).any(-1)  # [B, B+N]
            in_hist[torch.arange(b), torch.arange(b)] = False
            logits = logits.masked_fill(in_hist, -float("inf"))
        return F.cross_entropy(logits, torch.arange(b, device=user.device))
