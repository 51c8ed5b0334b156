"""What every ranker answers: the probability that a user with history `hist` acts on each candidate.

A ranker scores C candidate items per history (RecBole's uniform interface, kept small):

    logits = ranker(hist, lens, items)      # hist [B, L] (0 = padding on the right), lens [B], items [B, C] -> [B, C]

Training (protocol R2 step 1) uses C = 2, the next item and one sampled negative, with the
pointwise log loss of the DIN and DIEN papers (DIN eq. 5, DIEN eq. 5):

    L_target = -1/N sum_{(x, y)} [ y log p(x) + (1 - y) log(1 - p(x)) ],   p = sigmoid(logit)

Item features (DIN section 4.1, DIEN section 4.1): each item is its id and its category, each with
its own embedding table, concatenated: e = [e_id ; e_cat]. The category is `split.item_category`
(planted topic on synthetic data, first genre on MovieLens, the uploaded log's `category`).

Every ranker ends in the same MLP (DIEN section 4.4: 200-80-1 with PReLU, Dice optional).
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F


class Dice(nn.Module):
    """DIN eq. 9: f(s) = p(s) s + (1 - p(s)) alpha s,  p(s) = sigmoid((s - E[s]) / sqrt(Var[s] + eps)),
    E and Var the mini-batch statistics (running averages at test time), over every leading axis."""

    def __init__(self, dim: int, eps: float = 1e-8) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(dim, eps=eps, affine=False)
        self.alpha = nn.Parameter(torch.zeros(dim))

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        shape = s.shape
        p = torch.sigmoid(self.bn(s.reshape(-1, shape[-1]))).reshape(shape)
        return p * s + (1 - p) * self.alpha * s


class PReLU(nn.Module):
    """PReLU with one slope per feature on the LAST axis (nn.PReLU's slopes act on axis 1)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.alpha = nn.Parameter(torch.full((dim,), 0.25))

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        return F.prelu(s.reshape(-1, s.shape[-1]), self.alpha).reshape(s.shape)


def activation(kind: str, dim: int) -> nn.Module:
    if kind == "dice":
        return Dice(dim)
    if kind == "prelu":
        return PReLU(dim)
    if kind == "sigmoid":
        return nn.Sigmoid()
    raise ValueError(f"activation must be 'prelu', 'dice' or 'sigmoid', not {kind!r}")


def mlp(sizes: list[int], act: str) -> nn.Sequential:
    """Linear layers sizes[0] -> ... -> sizes[-1], the activation between them (not after the last)."""
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(activation(act, sizes[i + 1]))
    return nn.Sequential(*layers)


class Ranker(nn.Module):
    """Base of every ranker: the id and category embeddings, the mean-pooled history, the final MLP."""

    name: str = "ranker"

    def __init__(
        self,
        n_items: int,
        item_category: torch.Tensor,
        dim: int = 32,
        cat_dim: int = 16,
        maxlen: int = 20,
        *,
        hidden: tuple[int, ...] = (200, 80),
        act: str = "prelu",
    ) -> None:
        super().__init__()
        self.n_items, self.maxlen = int(n_items), int(maxlen)
        cat = torch.as_tensor(item_category, dtype=torch.long).clone() + 1  # -1 (padding) -> 0
        cat[0] = 0
        self.register_buffer("item_cat", cat, persistent=False)  # [I+1]: category index + 1, 0 = padding
        n_cats = int(cat.max()) + 1
        self.id_emb = nn.Embedding(self.n_items + 1, dim, padding_idx=0)
        self.cat_emb = nn.Embedding(n_cats, cat_dim, padding_idx=0)
        self.e_dim = dim + cat_dim  # D: the size of an item's embedding e
        self.hidden, self.act = tuple(hidden), act
        self.mlp: nn.Sequential | None = None  # built by subclasses once they know the input size

    def build_mlp(self, n_in: int) -> None:
        self.mlp = mlp([n_in, *self.hidden, 1], self.act)

    def embed(self, items: torch.Tensor) -> torch.Tensor:
        """[...] item indices -> [..., D] e = [e_id ; e_cat]; zero at padding (index 0)."""
        return torch.cat([self.id_emb(items), self.cat_emb(self.item_cat[items])], dim=-1)

    @staticmethod
    def mean_pool(e: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[B, L, D], [B, L] bool -> [B, D]: mean of the real behaviours' embeddings."""
        m = mask.float()
        return torch.einsum("bld,bl->bd", e, m) / m.sum(1, keepdim=True).clamp(min=1.0)

    def head(self, *features: torch.Tensor) -> torch.Tensor:
        """Concatenate [B, C, *] features and apply the MLP: -> [B, C] logits."""
        return self.mlp(torch.cat(features, dim=-1)).squeeze(-1)

    def forward(self, hist: torch.Tensor, lens: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    loss_kind: str = "bce"  # "bce": the papers' log loss; "softmax": the positive (column 0) against its negatives

    def target_loss(self, logits: torch.Tensor, labels: torch.Tensor, log_q: torch.Tensor | None = None) -> torch.Tensor:
        """L_target on [B, C] logits: the papers' pointwise log loss (DIN eq. 5, DIEN eq. 5), or with loss_kind
        "softmax" a sampled softmax of the positive (column 0) against the example's own negatives (a deviation:
        closer to the recall models' listwise training, so the ranker learns to order near-misses). `log_q` [B, C]:
        the sampler's log Q per candidate, subtracted from the logits (sampled-softmax correction, softmax only)."""
        if self.loss_kind == "softmax":
            if log_q is not None:
                logits = logits - log_q
            return F.cross_entropy(logits, torch.zeros(len(logits), dtype=torch.long))
        return F.binary_cross_entropy_with_logits(logits, labels)

    def loss(self, hist, lens, items, labels, aux_negatives=None, log_q=None) -> tuple[torch.Tensor, dict]:
        """Target loss on [B, C] candidates with labels [B, C] in {0, 1}; returns (loss, parts)."""
        logits = self(hist, lens, items)
        target = self.target_loss(logits, labels, log_q)
        return target, {"target": float(target.detach())}
