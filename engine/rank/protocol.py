"""Protocol R2 (../shared/PROTOCOL.md): ranking and two-stage recommendation, on R1's split.

Implemented once here; training, the CLI, the bench, the page and the tests all call it.

1. Training examples: R1 step 5 (train users only). Each example's positive is the next item; its
   negatives (one in the papers, `n_negatives` in the config) are drawn from the items 1..I (uniform, or
   by training-users' popularity with add-one smoothing), redrawn until they differ from the positive
   (`sample_negatives`). With `category_share` > 0 each negative is, with that chance, drawn from the
   positive's own category instead (`training_negatives`; chosen on validation users, bench/rank_*.md). DIEN's
   auxiliary loss gets one such negative per history step, never that step's own item.
2. AUC (`auc_negatives`, `auc`): for each validation or test user, every target in seq[k:] is a
   positive for the history seq[:k][-maxlen:]. Negatives: rng = numpy.random.default_rng(seed + 1000),
   one fresh generator per ratio; for each user in the EvalSet's order,
   rng.choice(items not in the user's whole sequence, size=ratio * |targets|, replace=True).
   A user's AUC is the share of all its (positive, negative) pairs the ranker orders correctly,
   ties counted half; the reported AUC is the mean over users. Ratios 1 ("AUC 1:1") and 100.
3. Two-stage (`two_stage`): the recall run's top 200 per user (R1 step 7, engine.recsys.evaluate.retrieve),
   the ranker re-orders them; Recall@10, NDCG@10 and HitRate@10 (R1 step 8, recall_ndcg_hit) of the
   re-ranked list, and of the recall order ("_recall_only").
4. Selection (epochs, settings) on validation users only. Epochs stop on the ranker's own validation
   NDCG@10 over all items (`full_ranking`, no recall run involved) or, with select="auc", on AUC 1:1.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.data.r1 import EvalSet, R1Split
from engine.errors import ConfigError
from engine.recsys.evaluate import recall_ndcg_hit, retrieve

AUC_RATIOS = (1, 100)
N_RECALL = 200
TOP_N = 10


# -- 1. training negatives ------------------------------------------------------------------------
def sampling_probs(split: R1Split, kind: str) -> np.ndarray | None:
    """Sampling distribution over item indices [I+1] (None = uniform over 1..I)."""
    if kind == "uniform":
        return None
    if kind == "popularity":
        c = split.train_item_count.astype(np.float64) + 1.0
        c[0] = 0.0
        return c / c.sum()
    raise ConfigError(f"negatives must be 'uniform' or 'popularity', not {kind!r}.")


def same_category_negatives(rng: np.random.Generator, item_category: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """One item per entry of `pos` (any shape), drawn uniformly from the positive's own category and never the
    positive itself; where the category has no other item, the positive comes back (callers keep their own draw there)."""
    cats = item_category[1:]
    order = np.argsort(cats, kind="stable") + 1  # item indices grouped by category
    count = np.bincount(cats, minlength=cats.max() + 1)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    c = item_category[pos]
    out = pos.copy()
    many = count[c] > 1
    bad = many.copy()
    while bad.any():
        cb = c[bad]
        out[bad] = order[start[cb] + (rng.random(cb.shape) * count[cb]).astype(np.int64)]
        bad = many & (out == pos)
    return out


def sample_negatives(rng: np.random.Generator, n_items: int, avoid: np.ndarray, probs: np.ndarray | None = None) -> np.ndarray:
    """Items 1..I shaped like `avoid`, each different from the item at the same place in `avoid`."""
    def draw(size):
        if probs is None:
            return rng.integers(1, n_items + 1, size=size)
        return rng.choice(len(probs), size=size, p=probs)

    out = draw(avoid.shape)
    bad = out == avoid
    while bad.any():
        out[bad] = draw(int(bad.sum()))
        bad = out == avoid
    return out


def training_negatives(rng: np.random.Generator, split: R1Split, pos: np.ndarray, n: int, kind: str = "uniform",
                       category_share: float = 0.0) -> np.ndarray:
    """R2 step 1: [N, n] negatives for the positives [N]: drawn by `kind` (uniform or popularity); each one is, with
    chance `category_share`, replaced by an item of the positive's own category (a harder negative: the two-stage
    candidates are mostly of the user's categories, and the ranker must order items within them)."""
    avoid = np.repeat(pos[:, None], n, 1)
    neg = sample_negatives(rng, split.n_items, avoid, sampling_probs(split, kind))
    if category_share > 0:
        swap = rng.random(neg.shape) < category_share
        same = same_category_negatives(rng, split.item_category, avoid[swap])
        neg[swap] = np.where(same != avoid[swap], same, neg[swap])
    return neg


def proposal_log_q(split: R1Split, items: np.ndarray, pos: np.ndarray, kind: str = "uniform", category_share: float = 0.0) -> np.ndarray:
    """log Q(j | positive) [N, C] of the candidates `items` [N, C] under `training_negatives`' proposal: the mixture
    (1 - s) q_kind(j) + s [c(j) = c(pos)] / (|c(pos)| - 1). Subtracting it from the logits of the softmax loss is the
    sampled-softmax correction (Jean et al., ACL 2015, section 3; Yi et al., RecSys 2019): the ranker then estimates
    log p(j | history) up to a constant instead of log p - log Q, which would punish popular and same-category items."""
    probs = sampling_probs(split, kind)
    base = np.full(items.shape, 1.0 / split.n_items) if probs is None else probs[items]
    if category_share <= 0:
        return np.log(base)
    cat = split.item_category
    size = np.bincount(cat[1:])[cat[pos]][:, None].astype(np.float64)  # |c(pos)| per example
    same = (cat[items] == cat[pos][:, None]) & (size > 1)
    q = (1 - category_share) * base + category_share * same / np.maximum(size - 1, 1)
    return np.log(q)


# -- scoring helper -------------------------------------------------------------------------------
@torch.no_grad()
def score(ranker, hist: np.ndarray, lens: np.ndarray, items: np.ndarray, rows_per_chunk: int = 8192) -> np.ndarray:
    """Logits [U, C] of candidates `items` [U, C] (0 = no candidate: -inf) for histories [U, L]."""
    was = ranker.training
    ranker.eval()
    U, C = items.shape
    per = max(1, rows_per_chunk // max(1, C))
    out = np.empty((U, C), dtype=np.float32)
    for i in range(0, U, per):
        h = torch.as_tensor(hist[i : i + per])
        logits = ranker(h, torch.as_tensor(lens[i : i + per]), torch.as_tensor(np.maximum(items[i : i + per], 0)))
        out[i : i + per] = logits.numpy()
    ranker.train(was)
    return np.where(items > 0, out, -np.inf)


# -- 2. AUC ---------------------------------------------------------------------------------------
def auc_negatives(split: R1Split, evalset: EvalSet, ratio: int) -> list[np.ndarray]:
    """Each user's AUC negatives: `ratio` per target, from items outside the user's whole sequence."""
    rng = np.random.default_rng(split.seed + 1000)
    all_items = np.arange(1, split.n_items + 1)
    out = []
    for u, targets in zip(evalset.users, evalset.targets):
        allowed = np.setdiff1d(all_items, split.sequences[int(u)], assume_unique=False)
        out.append(rng.choice(allowed, size=ratio * len(targets), replace=True))
    return out


def pair_auc(pos: np.ndarray, neg: np.ndarray) -> float:
    """Share of (positive, negative) score pairs ordered correctly, ties half."""
    d = pos[:, None] - neg[None, :]
    return float(((d > 0).sum() + 0.5 * (d == 0).sum()) / d.size)


def auc(ranker, split: R1Split, evalset: EvalSet, ratio: int, negatives: list[np.ndarray] | None = None) -> float:
    """R2 step 2: mean over users of the AUC of their targets against their sampled negatives."""
    negatives = negatives if negatives is not None else auc_negatives(split, evalset, ratio)
    width = max(len(t) + len(n) for t, n in zip(evalset.targets, negatives))
    items = np.zeros((len(evalset), width), dtype=np.int64)
    for r, (t, n) in enumerate(zip(evalset.targets, negatives)):
        items[r, : len(t) + len(n)] = np.concatenate([t, n])
    s = score(ranker, evalset.hist, evalset.lens, items)
    return float(np.mean([pair_auc(s[r, : len(t)], s[r, len(t) : len(t) + len(n)])
                          for r, (t, n) in enumerate(zip(evalset.targets, negatives))]))


def full_ranking(ranker, evalset: EvalSet, n: int = TOP_N) -> dict[str, float]:
    """The ranker alone as a recommender: it scores every item not in the user's history (seq[:k]) and its top n
    is measured like R1 (Recall / NDCG / HitRate @n). It needs no recall run, so it serves epoch selection
    (R2 step 4): the measure closest to the two-stage task without tying the ranker to one recall model."""
    items = np.tile(np.arange(1, ranker.n_items + 1, dtype=np.int64), (len(evalset), 1))  # [U, I]
    for r, seen in enumerate(evalset.seen):
        items[r, np.asarray(seen, dtype=np.int64) - 1] = 0  # excluded (scored -inf)
    s = score(ranker, evalset.hist, evalset.lens, items)
    top = np.argsort(-s, axis=1, kind="stable")[:, :n] + 1
    return ranking_metrics(top, evalset.targets, n)


# -- 3. two-stage ---------------------------------------------------------------------------------
@torch.no_grad()
def recall_candidates(recall_model, evalset: EvalSet, n: int = N_RECALL) -> np.ndarray:
    """R1 step 7 with a recall model (its `encode` and `item_vectors`): top n per user [U, n], -1 where fewer."""
    recall_model.eval()
    enc = recall_model.encode(torch.as_tensor(evalset.hist), torch.as_tensor(evalset.lens))
    vecs = (enc.vectors * enc.mask[:, :, None]).numpy().astype(np.float32)
    items = recall_model.item_vectors().detach().numpy().astype(np.float32)
    return retrieve(vecs, items, evalset.seen, n=n, interest_mask=enc.mask.numpy())


def rerank(ranker, evalset: EvalSet, candidates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The candidates [U, n] re-ordered by the ranker's score (stable: ties keep the recall order), and the scores."""
    s = score(ranker, evalset.hist, evalset.lens, np.maximum(candidates, 0))
    order = np.argsort(-s, axis=1, kind="stable")
    return np.take_along_axis(candidates, order, 1), np.take_along_axis(s, order, 1)


@dataclass
class TwoStage:
    candidates: np.ndarray  # [U, n] recall order
    reranked: np.ndarray  # [U, n] ranker order
    metrics: dict[str, float]


def ranking_metrics(ranked: np.ndarray, targets, n: int = TOP_N, suffix: str = "") -> dict[str, float]:
    per = np.array([recall_ndcg_hit(r, t, n) for r, t in zip(ranked, targets)])
    return {f"recall@{n}{suffix}": float(per[:, 0].mean()), f"ndcg@{n}{suffix}": float(per[:, 1].mean()),
            f"hitrate@{n}{suffix}": float(per[:, 2].mean())}


def two_stage(ranker, recall_model, evalset: EvalSet, n: int = N_RECALL, candidates: np.ndarray | None = None) -> TwoStage:
    """R2 step 3: recall top n, re-rank, metrics @10 of both orders."""
    cand = recall_candidates(recall_model, evalset, n) if candidates is None else candidates
    ranked, _ = rerank(ranker, evalset, cand)
    m = ranking_metrics(ranked, evalset.targets)
    m.update(ranking_metrics(cand, evalset.targets, suffix="_recall_only"))
    return TwoStage(candidates=cand, reranked=ranked, metrics=m)
