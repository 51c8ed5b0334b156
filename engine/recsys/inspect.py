"""One user, seen from inside a trained model: routing per iteration, attention, recommendations.

The app's routing, map and nearest-items pages read these; every number they show comes from here
(or from the model files), never from the page. Arrays are numpy, one user at a time, cut to the
user's real behaviours (no padding rows).

    rv = routing(model, hist, iterations=3, k=4)      # couplings [r, n, K], capsule lengths [r, K], ...
    rec = recommend(rv.interests, rv.mask, items, seen, n=50, lam=0.5, item_category=cats)
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import torch

from engine.data.r1 import EvalSet
from engine.errors import ConfigError
from engine.recsys.base import RecModel
from engine.recsys.evaluate import diversity, recall_ndcg_hit, retrieve
from engine.retrieval import IndexSpec, VectorIndex


# -- users ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class UserView:
    """An evaluation user: raw id, the history the model reads (oldest first), all seen items, held-out future."""

    row: int
    user: int
    hist: np.ndarray  # [n] item indices, oldest first (at most maxlen)
    seen: np.ndarray  # all of seq[:k] (excluded from retrieval)
    targets: np.ndarray  # seq[k:]


def user_view(evalset: EvalSet, row: int) -> UserView:
    if not 0 <= row < len(evalset):
        raise ConfigError(f"There is no evaluation user number {row}; pick one of the {len(evalset)} listed.", code="no_user", row=row, n=len(evalset))
    n = int(evalset.lens[row])
    return UserView(row=int(row), user=int(evalset.users[row]), hist=evalset.hist[row, :n].copy(),
                    seen=np.asarray(evalset.seen[row]), targets=np.asarray(evalset.targets[row]))


# -- routing ----------------------------------------------------------------------------------
@dataclass
class RoutingView:
    """What a multi-interest encoder did with one history of n behaviours."""

    model: str
    couplings: np.ndarray  # [r, n, K]: w_ij per iteration (SA: attention A, sums to one over n)
    logits: np.ndarray  # [r, n, K]: b_ij at the start of each iteration (SA: attention scores)
    capsule_lengths: np.ndarray | None  # [r, K] |u_j| after each iteration (None for SA)
    interests: np.ndarray  # [K, d] final interest vectors (zero where mask is False)
    mask: np.ndarray  # [K] bool: interests the user has (MIND's dynamic count)
    steps: list[dict] = field(default_factory=list)  # einsum steps with live shapes
    attention: np.ndarray | None = None  # [K, n] ComiRec-SA attention

    @property
    def iterations(self) -> int:
        return self.couplings.shape[0]

    @property
    def k(self) -> int:
        return self.couplings.shape[2]

    def entropy(self) -> np.ndarray:
        """[r]: mean over behaviours of the entropy (nats) of w_i. over the user's interests."""
        w = self.couplings[:, :, self.mask]
        return -(w * np.log(np.clip(w, 1e-12, None))).sum(-1).mean(-1)

    def assignment(self, t: int = -1) -> np.ndarray:
        """[n]: the interest each behaviour sends most of its weight to at iteration t (default: the last)."""
        w = self.couplings[t].copy()
        w[:, ~self.mask] = -np.inf
        return w.argmax(1)

    def leader(self, t: int, margin: float = 5e-3) -> np.ndarray:
        """[n]: `assignment(t)`, or -1 where that interest leads the runner-up among the user's interests by
        no more than `margin` (a uniform row has no favourite; with one interest it always leads)."""
        best = self.assignment(t)
        w = np.where(self.mask, self.couplings[t], -np.inf)
        runner_up = np.sort(w, axis=1)[:, -2] if w.shape[1] > 1 else np.full(len(w), -np.inf)
        return np.where(w[np.arange(len(w)), best] - runner_up > margin, best, -1)


@torch.no_grad()
def routing(model: RecModel, hist: np.ndarray, *, iterations: int | None = None, k: int | None = None) -> RoutingView:
    """Run the model's encoder on one history with tracing on; iterations / K override the trained ones."""
    if not getattr(model, "multi_interest", False) or model.name == "mostpop":
        raise ConfigError(f"{model.name} has a single user vector and no routing; pick MIND, ComiRec-DR or ComiRec-SA.", code="single_vector", model=model.name)
    hist = np.asarray(hist, dtype=np.int64)
    n = len(hist)
    if n < 1:
        raise ConfigError("This user has no behaviours in the model's window; pick another user.", code="no_behaviours")
    if k is not None and k > n:
        raise ConfigError(f"K = {k} interests is more than this user's {n} behaviours: lower K to at most {n} or pick a user with a longer history.", code="k_above_history", k=k, n=n)
    model.eval()
    h = torch.as_tensor(hist)[None, :]  # [1, n]
    enc = model.encode(h, torch.tensor([n]), trace=True, iterations=iterations, k=k)
    tr = enc.trace
    couplings = np.stack([c[0].numpy() for c in tr["couplings"]])  # [r, n, K]
    logits = np.stack([b[0].numpy() for b in tr["logits"]])
    lengths = np.stack([c[0].numpy() for c in tr["capsule_lengths"]]) if tr.get("capsule_lengths") else None
    mask = enc.mask[0].numpy().astype(bool)
    vecs = (enc.vectors[0] * enc.mask[0, :, None]).numpy()
    att = tr["attention"][0].numpy() if "attention" in tr else None
    return RoutingView(model=model.name, couplings=couplings, logits=logits, capsule_lengths=lengths,
                       interests=vecs.astype(np.float32), mask=mask, steps=list(tr["steps"]), attention=att)


def attention_over_p(interests: np.ndarray, mask: np.ndarray, target_vec: np.ndarray, ps) -> np.ndarray:
    """MIND's label-aware attention (section 3.4) for one target over a grid of p: [P, K] attention weights over the interests (0 where mask is False).

    Only the user's interests enter the softmax (a masked -inf score times p = 0 would be nan)."""
    from engine.recsys.mind import label_aware_attention

    mask = np.asarray(mask, dtype=bool)
    V = torch.as_tensor(np.asarray(interests, dtype=np.float32)[mask])[None]  # [1, K', d]
    e = torch.as_tensor(target_vec, dtype=torch.float32)[None]  # [1, d]
    out = np.zeros((len(ps), len(mask)), dtype=np.float32)
    for r, p in enumerate(ps):
        out[r, mask] = label_aware_attention(V, e, float(p))[1][0].numpy()
    return out


def dynamic_interest_count(n_behaviours: int, K: int) -> int:
    """MIND eq. 9 (re-exported so pages need not import the model file)."""
    from engine.recsys.mind import dynamic_interest_count as dic

    return int(dic(int(n_behaviours), int(K)))


# -- items and recommendations ----------------------------------------------------------------
def top_items(vectors: np.ndarray, item_vectors: np.ndarray, exclude: np.ndarray, n: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Each vector's top n items by inner product, never padding or `exclude`: (ids [K, n], scores [K, n])."""
    index = VectorIndex(item_vectors, IndexSpec())
    ex = np.concatenate([[0], np.asarray(exclude, dtype=np.int64)])
    scores, ids = index.search(np.asarray(vectors, dtype=np.float32), n, exclude=[ex] * len(vectors))
    return ids, scores


def nearest_items(index: VectorIndex, item_vectors: np.ndarray, item: int, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """An item's n nearest other items under `index`'s metric: (ids [n], scores [n])."""
    scores, ids = index.search(np.asarray(item_vectors[item], dtype=np.float32)[None], n, exclude=[np.array([0, item])])
    return ids[0], scores[0]


@dataclass
class Recommendation:
    per_interest: np.ndarray  # [K, n] ids, -1 for a missing interest
    per_interest_scores: np.ndarray  # [K, n]
    merged: np.ndarray  # [n] ids: best score per item (lam = 0) or ComiRec's greedy aggregation
    recall: float
    ndcg: float
    hit: float
    diversity: float


def recommend(user_vectors: np.ndarray, mask: np.ndarray, item_vectors: np.ndarray, seen: np.ndarray, targets: np.ndarray,
              n: int, lam: float = 0.0, item_category: np.ndarray | None = None, index: VectorIndex | None = None) -> Recommendation:
    """Per-interest top n and the merged list of one user (R1 step 7), with Recall / NDCG / HitRate / Diversity @n."""
    uv = np.asarray(user_vectors, dtype=np.float32)  # [K, d]
    mask = np.asarray(mask, dtype=bool)
    index = index or VectorIndex(item_vectors, IndexSpec())
    ex = np.concatenate([[0], np.asarray(seen, dtype=np.int64)])
    scores, ids = index.search(uv, n, exclude=[ex] * len(uv))
    ids[~mask] = -1
    scores[~mask] = -np.inf
    merged = retrieve(uv[None], item_vectors, [np.asarray(seen)], n=n, interest_mask=mask[None], lam=lam,
                      item_category=item_category, index=index)[0]
    r, nd, h = recall_ndcg_hit(merged, targets, n)
    div = diversity(merged, item_category, n) if item_category is not None else float("nan")
    return Recommendation(per_interest=ids, per_interest_scores=scores, merged=merged, recall=r, ndcg=nd, hit=h, diversity=div)


def index_quality(item_vectors: np.ndarray, queries: np.ndarray, exclude: list[np.ndarray], n: int, spec: IndexSpec,
                  repeats: int = 3) -> dict[str, float]:
    """Query latency (ms per query, best of `repeats`) of an index and its recall@n against exact search."""
    exact = VectorIndex(item_vectors, IndexSpec(metric=spec.metric))
    t0 = time.perf_counter()
    index = VectorIndex(item_vectors, spec)
    build = time.perf_counter() - t0
    q = np.asarray(queries, dtype=np.float32)
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        _, ids = index.search(q, n, exclude=exclude)
        best = min(best, time.perf_counter() - t0)
    _, ref = exact.search(q, n, exclude=exclude)
    rec = np.mean([len(set(a[a >= 0]) & set(b[b >= 0])) / max(1, (b >= 0).sum()) for a, b in zip(ids, ref)])
    return {"ms_per_query": 1000 * best / len(q), "recall_vs_exact": float(rec), "build_ms": 1000 * build, "queries": int(len(q))}


# -- planted interests (synthetic data) -------------------------------------------------------
def recovery_for_user(model: RecModel, rv: RoutingView, hist: np.ndarray, item_topic: np.ndarray, seed: int = 0) -> dict:
    """How one user's behaviours were grouped: planted topic, routing's interest (last iteration's argmax),
    and k-means (k = the user's interest count) on the same behaviour embeddings, with each grouping's
    adjusted Rand index against the planted topics (1 = the same partition, about 0 = chance)."""
    from sklearn.cluster import KMeans
    from sklearn.metrics import adjusted_rand_score

    hist = np.asarray(hist, dtype=np.int64)
    planted = item_topic[hist]
    routed = rv.assignment()
    e = model.item_vectors().detach().numpy()[hist]  # the behaviour embeddings e_i, [n, d]
    k = int(min(rv.mask.sum(), len(np.unique(e, axis=0))))
    km = KMeans(n_clusters=max(1, k), n_init=10, random_state=seed).fit_predict(e) if k > 1 else np.zeros(len(hist), dtype=int)
    return {
        "planted": planted,
        "routing": routed,
        "kmeans": km,
        "ari_routing": float(adjusted_rand_score(planted, routed)),
        "ari_kmeans": float(adjusted_rand_score(planted, km)),
    }


# -- how distinct one user's interests are (protocol S1 for one user) ----------------------------
@dataclass
class SeparationView:
    """One user's interests: their pairwise cosines and what each retrieves (S1's top-10 lists)."""

    cosine: np.ndarray  # [K', K'] between the active interests
    active: np.ndarray  # [K'] indices of the active interests
    lists: list  # [K'] engine.recsys.interests.InterestList: top-10 items, majority category, purity

    @property
    def mean_cosine(self) -> float:
        """The user's interest_cosine (mean over pairs); nan with a single interest."""
        k = len(self.active)
        return float(self.cosine[np.triu_indices(k, 1)].mean()) if k > 1 else float("nan")

    @property
    def distinct(self) -> float:
        """Distinct majority categories / active interests (the user's interest_distinct)."""
        return len({x.majority for x in self.lists}) / max(1, len(self.lists))


def separation_for_user(interests: np.ndarray, mask: np.ndarray, item_vectors: np.ndarray, seen: np.ndarray,
                        item_group: np.ndarray, index: VectorIndex | None = None) -> SeparationView:
    """S1 for one user: cosine matrix of the active interests, each one's top 10 with majority and purity
    (`index`: an exact inner-product index over `item_vectors` to reuse; built when None)."""
    from engine.recsys.interests import interest_lists

    mask = np.asarray(mask, dtype=bool)
    active = np.flatnonzero(mask)
    v = np.asarray(interests, dtype=np.float64)[active]
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    lists = interest_lists(np.asarray(interests)[None], mask[None], item_vectors, [np.asarray(seen)], item_group, index=index)[0]
    return SeparationView(cosine=v @ v.T, active=active, lists=lists)


def gathered(rv: RoutingView) -> np.ndarray:
    """[r, K]: how many behaviours each interest gathers per iteration, sum_i w_ij (MIND eq. 6's weights;
    ComiRec-DR's c_ij). Unlike the capsule length, which squash pins near 1 once |z_j| >> 1, this moves."""
    return rv.couplings.sum(1)
