"""How well routing recovers planted interests (synthetic data, where each item's topic is known).

For each evaluated user with at least two planted interests, the model's behaviour-to-interest
assignment (argmax over interests of the coupling weights at the last routing iteration; for
ComiRec-SA the attention weights) is compared with the behaviours' planted topics
(R1Split.item_topic) by the adjusted Rand index; the same is done for k-means (as many clusters as
the user's valid interests) on the same behaviour embeddings e_i. ARI is 1 for the same partition
(whatever the labels), about 0 for a random one.
"""
from __future__ import annotations

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score

from engine.data.r1 import EvalSet, R1Split
from engine.errors import ConfigError
from engine.recsys.base import RecModel


@torch.no_grad()
def interest_recovery(
    model: RecModel,
    split: R1Split,
    evalset: EvalSet | None = None,
    *,
    iterations: int | None = None,
    k: int | None = None,
    min_interests: int = 2,
    seed: int = 0,
) -> dict:
    """Mean ARI of the model's routing and of k-means against the planted topics.

    Returns {"model_ari", "kmeans_ari", "n_users", "users": [{"user", "planted", "interests",
    "model_ari", "kmeans_ari"}, ...]}. Raises ConfigError without planted topics or for a
    single-vector model.
    """
    if split.item_topic is None or split.user_topics is None:
        raise ConfigError("Interest recovery needs planted topics: use the synthetic dataset.")
    if not model.multi_interest:
        raise ConfigError(f"{model.name} has one user vector and no routing; pick MIND, ComiRec-DR or ComiRec-SA.")
    evalset = evalset if evalset is not None else split.test
    keep = [r for r, u in enumerate(evalset.users) if len(split.user_topics.get(int(u), [])) >= min_interests]
    if not keep:
        raise ConfigError(f"No evaluated user has {min_interests} or more planted interests.")
    hist = torch.as_tensor(evalset.hist[keep])
    lens = torch.as_tensor(evalset.lens[keep])
    was = model.training
    model.eval()
    enc = model.encode(hist, lens, trace=True, iterations=iterations, k=k)
    model.train(was)
    couplings = enc.trace["couplings"][-1]  # [B, L, K] at the last iteration
    couplings = couplings.masked_fill(~enc.mask[:, None, :], -1.0)
    assign = couplings.argmax(-1).numpy()  # [B, L]
    emb = model.item_emb(hist).numpy()  # [B, L, d]
    rows = []
    for b, r in enumerate(keep):
        n = int(lens[b])
        items = evalset.hist[r, :n]
        truth = split.item_topic[items]
        pred = assign[b, :n]
        n_clusters = max(1, min(int(enc.mask[b].sum()), len(np.unique(emb[b, :n], axis=0))))
        km = KMeans(n_clusters=n_clusters, n_init=10, random_state=seed).fit_predict(emb[b, :n]) if n_clusters > 1 else np.zeros(n, int)
        rows.append(
            {
                "user": int(evalset.users[r]),
                "planted": len(split.user_topics[int(evalset.users[r])]),
                "interests": int(enc.mask[b].sum()),
                "model_ari": float(adjusted_rand_score(truth, pred)),
                "kmeans_ari": float(adjusted_rand_score(truth, km)),
            }
        )
    return {
        "model_ari": float(np.mean([x["model_ari"] for x in rows])),
        "kmeans_ari": float(np.mean([x["kmeans_ari"] for x in rows])),
        "n_users": len(rows),
        "users": rows,
    }
