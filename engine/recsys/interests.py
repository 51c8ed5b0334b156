"""Protocol S1: how distinct a user's K interests are (../shared/PROTOCOL.md, S1).

A multi-interest model is only worth its K vectors when they are different things. For each
evaluated user with at least 2 active interests (dynamic K and masks respected):

- interest_cosine: mean pairwise cosine between the user's active interest vectors;
- each active interest retrieves its top 10 items by inner product (padding and `seq[:k]`
  excluded, as R1 step 7); the list's majority category is its most frequent category (ties: the
  lower category id), and
  - interest_purity@10: mean over the user's interests of (majority count) / 10,
  - interest_distinct: distinct majority categories / active interests;
- synthetic data only (users with >= 2 planted topics): topic_coverage, the share of the user's
  planted topics that are the majority category of at least one interest, and
  topic_coverage_present, the same among the planted topics that occur in the history the model
  reads (`seq[:k][-maxlen:]`): a topic absent from it cannot be found.

Each figure is averaged over the evaluated users. The reference is k-means on the user's history
item vectors (the model's own item table) with as many clusters as the user has active interests,
centroids as interests (`kmeans_interests`), scored by the same function.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.cluster import KMeans

from engine.data.r1 import EvalSet
from engine.retrieval import VectorIndex

TOP_N = 10
METRICS = ("interest_cosine", "interest_purity@10", "interest_distinct", "topic_coverage", "topic_coverage_present")


@dataclass
class InterestList:
    """One interest's top-N items, their majority category and its share (purity)."""

    items: np.ndarray  # [N] item indices, best first
    majority: int  # category id (-1 when the list is empty)
    purity: float


def majority(categories: np.ndarray) -> tuple[int, float]:
    """(most frequent category, its share of the list); ties go to the lower category id."""
    cats = np.asarray(categories, dtype=np.int64)
    cats = cats[cats >= 0]
    if len(cats) == 0:
        return -1, 0.0
    values, counts = np.unique(cats, return_counts=True)  # values ascending: argmax picks the lower id on ties
    j = int(np.argmax(counts))
    return int(values[j]), float(counts[j]) / TOP_N


def pairwise_cosine(vectors: np.ndarray) -> float:
    """Mean cosine over the pairs of rows of `vectors` [k, d] (k >= 2)."""
    v = np.asarray(vectors, dtype=np.float64)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    sim = v @ v.T
    iu = np.triu_indices(len(v), k=1)
    return float(sim[iu].mean())


def interest_lists(
    user_vectors: np.ndarray,
    interest_mask: np.ndarray,
    item_vectors: np.ndarray,
    seen: list[np.ndarray],
    item_group: np.ndarray,
    n: int = TOP_N,
    index: VectorIndex | None = None,
) -> list[list[InterestList]]:
    """Per user, per active interest: its top-n items (padding and seen items excluded), majority, purity."""
    uv = np.asarray(user_vectors, dtype=np.float32)
    U, K, d = uv.shape
    index = index or VectorIndex(item_vectors)
    rows = [(u, k) for u in range(U) for k in range(K) if interest_mask[u, k]]
    out: list[list[InterestList]] = [[] for _ in range(U)]
    if not rows:
        return out
    queries = np.stack([uv[u, k] for u, k in rows])
    exclude = [np.concatenate([[0], np.asarray(seen[u], dtype=np.int64)]) for u, _ in rows]
    _, ids = index.search(queries, n, exclude=exclude)
    for (u, _), top in zip(rows, ids):
        top = top[top >= 0]
        maj, pur = majority(item_group[top])
        out[u].append(InterestList(items=top, majority=maj, purity=pur * TOP_N / n))
    return out


def separation(
    user_vectors: np.ndarray,
    interest_mask: np.ndarray,
    item_vectors: np.ndarray,
    evalset: EvalSet,
    item_group: np.ndarray,
    user_topics: dict[int, list] | None = None,
) -> dict[str, float]:
    """The S1 figures of one set of interests (model or k-means) over an evaluation set."""
    mask = np.asarray(interest_mask, dtype=bool)
    lists = interest_lists(user_vectors, mask, item_vectors, evalset.seen, item_group)
    cos, pur, dis, cov, cov_present = [], [], [], [], []
    for u in range(len(evalset)):
        active = np.flatnonzero(mask[u])
        if len(active) < 2:
            continue
        cos.append(pairwise_cosine(np.asarray(user_vectors)[u, active]))
        pur.append(float(np.mean([x.purity for x in lists[u]])))
        majors = {x.majority for x in lists[u]}
        dis.append(len(majors) / len(active))
        planted = [int(t) for t, *_ in (user_topics or {}).get(int(evalset.users[u]), [])]
        if user_topics is not None and len(planted) >= 2:
            cov.append(float(np.mean([t in majors for t in planted])))
            present = set(item_group[evalset.hist[u, : evalset.lens[u]]].tolist()) & set(planted)
            if present:
                cov_present.append(float(np.mean([t in majors for t in present])))
    out = {
        "interest_cosine": float(np.mean(cos)) if cos else float("nan"),
        "interest_purity@10": float(np.mean(pur)) if pur else float("nan"),
        "interest_distinct": float(np.mean(dis)) if dis else float("nan"),
        "interest_users": float(len(cos)),
    }
    if user_topics is not None:
        out["topic_coverage"] = float(np.mean(cov)) if cov else float("nan")
        out["topic_coverage_present"] = float(np.mean(cov_present)) if cov_present else float("nan")
    return out


def kmeans_interests(item_vectors: np.ndarray, evalset: EvalSet, n_interests: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """k-means centroids of each user's history item vectors, as many as `n_interests[u]` (at most
    the distinct items): ([U, K, d], mask [U, K])."""
    iv = np.asarray(item_vectors, dtype=np.float32)
    K = int(max(1, np.max(n_interests)))
    U, d = len(evalset), iv.shape[1]
    vecs = np.zeros((U, K, d), dtype=np.float32)
    mask = np.zeros((U, K), dtype=bool)
    for u in range(U):
        items = evalset.hist[u, : evalset.lens[u]]
        x = iv[items]
        k = int(max(1, min(int(n_interests[u]), len(np.unique(items)))))
        if k == 1:
            vecs[u, 0] = x.mean(0)
        else:
            vecs[u, :k] = KMeans(n_clusters=k, n_init=10, random_state=seed).fit(x).cluster_centers_
        mask[u, :k] = True
    return vecs, mask


def group_of_items(split) -> np.ndarray:
    """The category S1 reads per item: planted topic on synthetic data, else the item's category."""
    return split.item_topic if split.item_topic is not None else split.item_category


def interest_metrics(
    user_vectors: np.ndarray,
    interest_mask: np.ndarray,
    item_vectors: np.ndarray,
    evalset: EvalSet,
    split,
    seed: int = 0,
) -> dict[str, float]:
    """S1 for a model's interests and for the k-means reference (keys prefixed `kmeans_`)."""
    group = group_of_items(split)
    topics = split.user_topics if split.item_topic is not None else None
    model = separation(user_vectors, interest_mask, item_vectors, evalset, group, topics)
    km_vecs, km_mask = kmeans_interests(item_vectors, evalset, np.asarray(interest_mask).sum(1), seed)
    ref = separation(km_vecs, km_mask, item_vectors, evalset, group, topics)
    return {**model, **{f"kmeans_{k}": v for k, v in ref.items()}}
