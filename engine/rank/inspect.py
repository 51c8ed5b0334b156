"""What the /rank page shows, computed here (the page only draws): one user's candidates before and
after re-ranking, DIN's activation weights, DIEN's attention a_t, AUGRU's gates u'_t = a_t * u_t and
hidden states h'_t, and a shared 2-D PCA of the interest-evolution paths (DIEN Fig. 3)."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from engine.data.r1 import EvalSet
from engine.rank import protocol
from engine.rank.dien import DIEN
from engine.rank.din import DIN


def one_user(evalset: EvalSet, row: int) -> EvalSet:
    """The evaluation set restricted to its row `row`."""
    return EvalSet(users=evalset.users[row : row + 1], hist=evalset.hist[row : row + 1], lens=evalset.lens[row : row + 1],
                   targets=[evalset.targets[row]], seen=[evalset.seen[row]])


@dataclass
class RerankView:
    before: np.ndarray  # [n] recall order (item indices)
    after: np.ndarray  # [n] ranker order
    scores: np.ndarray  # [n] ranker logits, in `after` order
    targets: np.ndarray  # the user's held-out future
    metrics: dict[str, float]  # @10 of both orders, for this user

    def moves(self) -> list[tuple[int, int, int]]:
        """(item, rank in recall order, rank after re-ranking), 1-based, for every candidate."""
        pos = {int(i): r for r, i in enumerate(self.after, start=1)}
        return [(int(i), r, pos[int(i)]) for r, i in enumerate(self.before, start=1) if i > 0]


def rerank_user(ranker, recall_model, evalset: EvalSet, row: int, n: int = protocol.N_RECALL) -> RerankView:
    """Recall the user's top n (R1 step 7), re-rank them with the ranker (R2 step 3)."""
    es = one_user(evalset, row)
    cand = protocol.recall_candidates(recall_model, es, n)
    cand = cand[:, (cand[0] > 0)]
    ranked, scores = protocol.rerank(ranker, es, cand)
    m = protocol.ranking_metrics(ranked, es.targets)
    m.update(protocol.ranking_metrics(cand, es.targets, suffix="_recall_only"))
    return RerankView(before=cand[0], after=ranked[0], scores=scores[0], targets=np.asarray(evalset.targets[row]), metrics=m)


@dataclass
class AttentionView:
    """Per history step, for each candidate: the attention (DIEN a_t, softmaxed; DIN w_j, not), and for DIEN the
    update gates and states of the interest evolving layer and the extractor's states."""

    kind: str  # "din" or "dien"
    attention: np.ndarray  # [C, T]
    gate: np.ndarray | None = None  # [C, T] mean over units of u_t (the GRU's own update gate)
    gate_att: np.ndarray | None = None  # [C, T] mean over units of u'_t = a_t * u_t (AUGRU)
    evolved: np.ndarray | None = None  # [C, T, H] h'_t
    baseline: np.ndarray | None = None  # [T, H] the same evolving GRU with every a_t = 1 (target-free)
    extracted: np.ndarray | None = None  # [T, H] h_t of the interest extractor


@torch.no_grad()
def attention_view(ranker, hist: np.ndarray, items: np.ndarray) -> AttentionView | None:
    """For one history [T] (real items only) and candidates [C]; None for BaseModel (nothing to attend)."""
    h = torch.as_tensor(np.asarray(hist, dtype=np.int64))[None]  # [1, T]
    lens = torch.tensor([h.shape[1]])
    c = torch.as_tensor(np.asarray(items, dtype=np.int64))[None]  # [1, C]
    if isinstance(ranker, DIEN):
        _, tr = ranker(h, lens, c, trace=True)
        mask = h > 0
        ones = torch.ones(1, 1, h.shape[1])
        base = ranker.evolution(tr["h"], ones, mask, trace=True)[1]["h_evolved"][0, 0]  # a_t = 1: a plain GRU
        return AttentionView(kind="dien", attention=tr["attention"][0].numpy(), gate=tr["u"][0].mean(-1).numpy(),
                             gate_att=tr["u_att"][0].mean(-1).numpy(), evolved=tr["h_evolved"][0].numpy(),
                             baseline=base.numpy(), extracted=tr["h"][0].numpy())
    if isinstance(ranker, DIN):
        _, tr = ranker(h, lens, c, trace=True)
        return AttentionView(kind="din", attention=tr["attention"][0].numpy())
    return None


def pca_paths(paths: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Project several [T, H] paths onto the first two principal axes of all their points together.
    Returns the 2-D paths and the share of variance each axis explains."""
    X = np.concatenate(paths, 0).astype(np.float64)
    mu = X.mean(0)
    _, s, vt = np.linalg.svd(X - mu, full_matrices=False)
    axes = vt[:2]
    var = (s**2) / max((s**2).sum(), 1e-12)
    return [(p - mu) @ axes.T for p in paths], var[:2]
