"""Protocol R1 steps 7-8: faiss retrieval, the multi-interest merge, and the metrics.

Retrieval (step 7): exact maximum inner product over all items through faiss, never returning
padding or anything in the user's `seq[:k]`. A multi-interest user lets each interest retrieve its
top N; the lists are merged by each item's best score (ComiRec's aggregation with lambda = 0).
With lambda > 0, ComiRec's greedy aggregation (Cen et al., KDD 2020, section 3.3) instead picks
one item at a time, maximising

    Q(u, S) = sum_{i in S} f(u, i) + lambda * sum_{i, j in S} g(i, j),
    f(u, i) = max_k e_i . v_u^(k),   g(i, j) = 1 if CATE(i) != CATE(j) else 0.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from engine.data.r1 import EvalSet
from engine.retrieval import IndexSpec, VectorIndex

NS = (20, 50)


def retrieve(
    user_vectors: np.ndarray,
    item_vectors: np.ndarray,
    seen: Sequence[np.ndarray],
    n: int = 50,
    interest_mask: np.ndarray | None = None,
    lam: float = 0.0,
    item_category: np.ndarray | None = None,
    index_spec: IndexSpec = IndexSpec(),
    index: VectorIndex | None = None,
) -> np.ndarray:
    """Top-n item indices per user ([U, n], -1 where fewer exist), merged over the user's interests."""
    uv = np.asarray(user_vectors, dtype=np.float32)
    if uv.ndim == 2:
        uv = uv[:, None, :]
    U, K, d = uv.shape
    mask = np.ones((U, K), dtype=bool) if interest_mask is None else np.asarray(interest_mask, dtype=bool)
    index = index or VectorIndex(item_vectors, index_spec)
    exclude = [np.concatenate([[0], np.asarray(seen[u], dtype=np.int64)]) for u in range(U) for _ in range(K)]
    scores, ids = index.search(uv.reshape(U * K, d), n, exclude=exclude)
    scores, ids = scores.reshape(U, K, n), ids.reshape(U, K, n)
    out = np.full((U, n), -1, dtype=np.int64)
    for u in range(U):
        best: dict[int, float] = {}
        for k in np.flatnonzero(mask[u]):
            for s, i in zip(scores[u, k], ids[u, k]):
                if i >= 0 and (i not in best or s > best[i]):
                    best[int(i)] = float(s)
        if lam > 0 and item_category is not None:
            ranked = greedy_aggregate(best, item_category, n, lam)
        else:
            ranked = [i for i, _ in sorted(best.items(), key=lambda kv: (-kv[1], kv[0]))[:n]]
        out[u, : len(ranked)] = ranked
    return out


def greedy_aggregate(scores: dict[int, float], item_category: np.ndarray, n: int, lam: float) -> list[int]:
    """ComiRec's greedy inference: grow S one item at a time by f(u, i) + lambda * #{j in S: CATE(j) != CATE(i)}."""
    cand = np.array(list(scores), dtype=np.int64)
    f = np.array([scores[int(i)] for i in cand], dtype=np.float64)
    cats = item_category[cand]
    chosen: list[int] = []
    taken = np.zeros(len(cand), dtype=bool)
    gain = np.zeros(len(cand))  # number of already-chosen items of another category
    for _ in range(min(n, len(cand))):
        obj = np.where(taken, -np.inf, f + lam * gain)
        j = int(np.argmax(obj))
        taken[j] = True
        chosen.append(int(cand[j]))
        gain += cats != cats[j]
    return chosen


def recall_ndcg_hit(ranked: np.ndarray, targets: np.ndarray, n: int) -> tuple[float, float, float]:
    """Recall@n, NDCG@n and HitRate@n of one user's ranked list against the set of targets."""
    top = [i for i in ranked[:n] if i >= 0]
    tset = set(int(t) for t in targets)
    hit_ranks = [r for r, i in enumerate(top, start=1) if i in tset]
    dcg = sum(1.0 / np.log2(r + 1) for r in hit_ranks)
    idcg = sum(1.0 / np.log2(r + 1) for r in range(1, min(len(tset), n) + 1))
    recall = len(hit_ranks) / len(tset) if tset else 0.0
    return recall, (dcg / idcg if idcg else 0.0), float(bool(hit_ranks))


def diversity(ranked: np.ndarray, item_category: np.ndarray, n: int) -> float:
    """Share of pairs among the top n whose categories differ (ComiRec's Diversity@N)."""
    top = np.array([i for i in ranked[:n] if i >= 0], dtype=np.int64)
    if len(top) < 2:
        return 0.0
    c = item_category[top]
    differ = (c[:, None] != c[None, :]).sum() / 2
    return float(differ / (len(top) * (len(top) - 1) / 2))


def metrics(ranked: np.ndarray, targets: Sequence[np.ndarray], item_category: np.ndarray | None) -> dict[str, float]:
    """Mean of each R1 metric over users: recall/ndcg/hitrate @20 and @50, diversity@50."""
    out: dict[str, float] = {}
    for n in NS:
        per_user = np.array([recall_ndcg_hit(r, t, n) for r, t in zip(ranked, targets)])
        out[f"recall@{n}"] = float(per_user[:, 0].mean())
        out[f"ndcg@{n}"] = float(per_user[:, 1].mean())
        out[f"hitrate@{n}"] = float(per_user[:, 2].mean())
    if item_category is not None:
        out["diversity@50"] = float(np.mean([diversity(r, item_category, 50) for r in ranked]))
    return out


def evaluate(
    user_vectors: np.ndarray,
    item_vectors: np.ndarray,
    evalset: EvalSet,
    item_category: np.ndarray | None,
    interest_mask: np.ndarray | None = None,
    lam: float = 0.0,
) -> dict[str, float]:
    """R1 steps 7-8 for one evaluation set."""
    ranked = retrieve(user_vectors, item_vectors, evalset.seen, n=max(NS), interest_mask=interest_mask,
                      lam=lam, item_category=item_category)
    return metrics(ranked, evalset.targets, item_category)


def most_popular_vectors(train_item_count: np.ndarray, n_users: int) -> tuple[np.ndarray, np.ndarray]:
    """MostPopular as an embedding model: item vector = [count], user vector = [1]."""
    items = train_item_count.astype(np.float32)[:, None]
    items[0] = -1.0
    return np.ones((n_users, 1, 1), dtype=np.float32), items
