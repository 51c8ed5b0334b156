"""Protocol R1 (../shared/PROTOCOL.md): sequence recall under strong generalization, after ComiRec.

Implemented once here; the trainer, the CLI, the app, the benchmarks and the tests all call
`make_r1`. Steps 1-6 (filtering, re-indexing, ordering, user split, examples) live here; steps
7-8 (retrieval, metrics) live in engine/recsys/evaluate.py. Vectorised (numpy over all users at
once) so that it also serves a 200,000-user, 1,000,000-item catalogue (engine/data/scale.py).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from engine.data.interactions import Interactions
from engine.errors import DataError


@dataclass
class EvalSet:
    """Validation or test users: history `seq[:k][-maxlen:]`, targets `seq[k:]`, k = int(0.8 len)."""

    users: np.ndarray  # [U] raw user ids, in perm order
    hist: np.ndarray  # [U, maxlen] item indices, left-aligned (oldest first), 0-padded on the right
    lens: np.ndarray  # [U]
    targets: list[np.ndarray]  # held-out future of each user (item indices)
    seen: list[np.ndarray]  # all of seq[:k]: excluded from retrieval

    def __len__(self) -> int:
        return len(self.users)


@dataclass
class R1Split:
    dataset: str
    seed: int
    maxlen: int
    n_items: int  # I: item indices are 1..I, 0 is padding
    item_raw_ids: np.ndarray  # [I+1], row 0 = -1
    item_titles: list[str]  # [I+1], row 0 = "<pad>"
    item_category: np.ndarray  # [I+1] index into category_names, -1 for padding
    category_names: list[str]
    item_count: np.ndarray  # [I+1] interactions after filtering
    train_item_count: np.ndarray  # [I+1] interactions of train users (MostPopular)
    sequences: dict[int, np.ndarray]  # user -> time-ordered item indices
    train_users: np.ndarray
    val_users: np.ndarray
    test_users: np.ndarray
    train_hist: np.ndarray  # [N, maxlen] left-aligned
    train_len: np.ndarray  # [N]
    train_target: np.ndarray  # [N]
    train_user: np.ndarray  # [N]
    val: EvalSet
    test: EvalSet
    item_topic: np.ndarray | None = None  # [I+1] planted topic (synthetic), -1 for padding
    user_topics: dict[int, list[tuple[int, float]]] | None = None
    topic_names: list[str] | None = None

    def stats(self) -> dict[str, int]:
        return {
            "items": self.n_items,
            "users": len(self.sequences),
            "interactions": int(sum(len(s) for s in self.sequences.values())),
            "train_users": len(self.train_users),
            "val_users": len(self.val_users),
            "test_users": len(self.test_users),
            "train_examples": len(self.train_target),
            "test_targets": int(sum(len(t) for t in self.test.targets)),
        }


def filter_log(log: pd.DataFrame, min_count: int = 5) -> pd.DataFrame:
    """Step 1: drop items with < 5 interactions, then users with < 5 remaining (one pass each)."""
    ic = log["item"].map(log["item"].value_counts())
    log = log[ic >= min_count]
    uc = log["user"].map(log["user"].value_counts())
    return log[uc >= min_count]


def reindex_items(log: pd.DataFrame) -> np.ndarray:
    """Step 2: raw ids ordered by descending count, ties by raw id ascending; row r = item index r+1."""
    counts = log["item"].value_counts()
    ids, c = counts.index.to_numpy(dtype=np.int64), counts.to_numpy(dtype=np.int64)
    return ids[np.lexsort((ids, -c))]  # last key first: count descending, then raw id ascending


def _pad(seqs: list[np.ndarray], maxlen: int) -> tuple[np.ndarray, np.ndarray]:
    out = np.zeros((len(seqs), maxlen), dtype=np.int64)
    lens = np.zeros(len(seqs), dtype=np.int64)
    for r, s in enumerate(seqs):
        s = s[-maxlen:]
        out[r, : len(s)] = s
        lens[r] = len(s)
    return out, lens


def _windows(flat: np.ndarray, starts: np.ndarray, lens: np.ndarray, maxlen: int, chunk: int = 1 << 18) -> tuple[np.ndarray, ...]:
    """Step 5 for many users at once: for each sequence flat[s : s+n] (in the given order) and each
    t = 1..n-1, the left-aligned 0-padded history seq[max(0, t-maxlen):t], its length and target seq[t]."""
    per_user = np.maximum(lens - 1, 0)
    N = int(per_user.sum())
    first = np.repeat(starts, per_user)  # [N] where each example's sequence starts in flat
    t = np.arange(N, dtype=np.int64) - np.repeat(np.cumsum(per_user) - per_user, per_user) + 1  # [N] 1..n-1
    hist = np.zeros((N, maxlen), dtype=np.int64)
    hlen = np.minimum(t, maxlen)
    cols = np.arange(maxlen, dtype=np.int64)
    for a in range(0, N, chunk):  # chunks keep the [chunk, maxlen] index arrays small
        b = min(N, a + chunk)
        src = (first[a:b] + t[a:b] - hlen[a:b])[:, None] + cols[None, :]  # [c, L]
        valid = cols[None, :] < hlen[a:b, None]
        hist[a:b] = np.where(valid, flat[np.where(valid, src, 0)], 0)
    return hist, hlen, flat[first + t], t


def _eval_set(users: np.ndarray, sequences: dict[int, np.ndarray], maxlen: int) -> EvalSet:
    hists, targets, seen = [], [], []
    for u in users:
        seq = sequences[int(u)]
        k = int(0.8 * len(seq))
        hists.append(seq[:k][-maxlen:])
        targets.append(seq[k:])
        seen.append(seq[:k])
    hist, lens = _pad(hists, maxlen)
    return EvalSet(users=np.asarray(users, dtype=np.int64), hist=hist, lens=lens, targets=targets, seen=seen)


def make_r1(data: Interactions, seed: int, maxlen: int = 20) -> R1Split:
    """Apply R1 steps 1-6 to a log; same input and seed, same split (callers cache: recsys.run.get_split)."""
    if maxlen < 1:
        raise DataError("maxlen must be at least 1.")
    log = filter_log(data.log)
    n_users = log["user"].nunique()
    if n_users < 10 or log["item"].nunique() < 2:
        raise DataError(
            f"After R1 filtering (items and users with at least 5 interactions) {n_users} users and "
            f"{log['item'].nunique()} items remain; R1 needs at least 10 users. Use a larger log.",
            code="r1_too_small", users=n_users, items=log['item'].nunique(),
        )
    raw_ids = reindex_items(log)
    index_of = pd.Series(np.arange(1, len(raw_ids) + 1), index=raw_ids)
    log = log.assign(idx=log["item"].map(index_of).to_numpy())
    log = log.sort_values(["user", "timestamp"], kind="stable")  # step 3 (stable: ties in file order)
    flat = log["idx"].to_numpy(dtype=np.int64)  # every user's sequence, users ascending, back to back
    log_users = log["user"].to_numpy(dtype=np.int64)
    cuts = np.flatnonzero(np.diff(log_users)) + 1
    user_ids = log_users[np.concatenate([[0], cuts])]  # ascending
    seq_start = np.concatenate([[0], cuts]).astype(np.int64)
    seq_len = np.diff(np.concatenate([seq_start, [len(flat)]]))
    sequences = dict(zip(user_ids.tolist(), np.split(flat, cuts)))

    # Step 4: user split
    rng = np.random.default_rng(seed)
    perm = rng.permutation(sorted(sequences))
    U = len(perm)
    n_train, n_val = int(0.8 * U), int(0.1 * U)
    train_users, val_users, test_users = perm[:n_train], perm[n_train : n_train + n_val], perm[n_train + n_val :]

    # Step 5: training examples from train users only
    row = np.searchsorted(user_ids, train_users)  # train users, in perm order
    train_hist, train_len, targets, _ = _windows(flat, seq_start[row], seq_len[row], maxlen)
    owners = np.repeat(np.asarray(train_users, dtype=np.int64), np.maximum(seq_len[row] - 1, 0))

    I = len(raw_ids)
    items = data.items.reindex(raw_ids)
    titles = items["title"].fillna(pd.Series(raw_ids.astype(str), index=raw_ids)).astype(str).tolist()
    cats = items["category"].fillna("unknown").astype(str)
    category_names = sorted(cats.unique().tolist())
    cat_index = {c: i for i, c in enumerate(category_names)}
    item_category = np.concatenate([[-1], cats.map(cat_index).to_numpy(dtype=np.int64)])
    item_count = np.bincount(flat, minlength=I + 1).astype(np.int64)
    is_train = np.zeros(len(user_ids), dtype=bool)
    is_train[row] = True
    train_item_count = np.bincount(flat[np.repeat(is_train, seq_len)], minlength=I + 1).astype(np.int64)
    item_topic = None
    if "topic" in items.columns:
        item_topic = np.concatenate([[-1], items["topic"].fillna(-1).to_numpy(dtype=np.int64)])

    return R1Split(
        dataset=data.name,
        seed=seed,
        maxlen=maxlen,
        n_items=I,
        item_raw_ids=np.concatenate([[-1], raw_ids]).astype(np.int64),
        item_titles=["<pad>"] + titles,
        item_category=item_category,
        category_names=category_names,
        item_count=item_count,
        train_item_count=train_item_count,
        sequences=sequences,
        train_users=np.asarray(train_users, dtype=np.int64),
        val_users=np.asarray(val_users, dtype=np.int64),
        test_users=np.asarray(test_users, dtype=np.int64),
        train_hist=train_hist,
        train_len=train_len,
        train_target=np.asarray(targets, dtype=np.int64),
        train_user=np.asarray(owners, dtype=np.int64),
        val=_eval_set(val_users, sequences, maxlen),
        test=_eval_set(test_users, sequences, maxlen),
        item_topic=item_topic,
        user_topics=data.user_topics,
        topic_names=data.topic_names,
    )
