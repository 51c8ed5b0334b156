"""A million-item catalogue: the synthetic generator's process, vectorised, with an on-disk split cache.

`generate` draws the same process as engine/data/synthetic.py (topics of chained items, 1 to
`max_interests` planted topics per user with Dirichlet(2) weights, switch / noise / order steps,
1-2 steps forward along a topic's chain) for every user at once, one time step at a time, so that
200,000 users and 1,000,000 items take seconds instead of a Python loop over 5 million steps. The
random draws are taken in another order than the per-user loop, so the same SyntheticConfig gives
a different (equally distributed) log here: this is the dataset "synthetic-scale", not "synthetic".

`load_split(cfg, seed, maxlen, cache_dir)` applies the one R1 implementation (engine/data/r1.py) and
keeps the split's arrays as .npy files under `<cache_dir>/scale-<hash of cfg, seed, maxlen>/`,
reopened memory-mapped (copy-on-write: the file is never changed) afterwards. Validation and test users are a fixed sample of at
most `eval_users` each (drawn with `numpy.random.default_rng(seed + 7)` from R1's validation and test
users, kept in perm order), so that evaluation over a 1M-item faiss index finishes in minutes.

    cfg = SCALE_DEFAULT  # 1,000,000 items, 200,000 users, 1,000 topics
    split = load_split(cfg, seed=0, maxlen=20, cache_dir="/tmp/scale-data")
"""
from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd

from engine.data.interactions import Interactions
from engine.data.r1 import EvalSet, R1Split, make_r1
from engine.data.synthetic import _ADJ, _NOUN, TOPICS, SyntheticConfig
from engine.errors import ConfigError

NAME = "synthetic-scale"
SCALE_DEFAULT = SyntheticConfig(n_users=200_000, n_items=1_000_000, n_topics=1_000)
EVAL_USERS = 2_000  # validation and test users evaluated per split (a fixed sample)
_SPLIT_VERSION = 1  # bump when the cached layout or the generator changes


def topic_names(n_topics: int) -> list[str]:
    """The synthetic generator's topic names, numbered once there are more topics than names."""
    if n_topics <= len(TOPICS):
        return TOPICS[:n_topics]
    return [f"{TOPICS[t % len(TOPICS)]} {t // len(TOPICS) + 1}" for t in range(n_topics)]


def validate(cfg: SyntheticConfig) -> None:
    """The generator's checks, without the 20-topic cap of the named topics."""
    if cfg.n_topics < 1:
        raise ConfigError(f"n_topics must be at least 1; got {cfg.n_topics}.")
    replace(cfg, n_topics=min(cfg.n_topics, len(TOPICS)), n_items=max(cfg.n_items, 2 * len(TOPICS)),
            max_interests=min(cfg.max_interests, len(TOPICS))).validate()  # lengths, probabilities, users
    if cfg.n_items < 2 * cfg.n_topics:
        raise ConfigError(f"Need at least 2 items per topic: raise n_items above {2 * cfg.n_topics - 1}.")
    if cfg.max_interests > cfg.n_topics:
        raise ConfigError("max_interests must be between 1 and n_topics.")


def _distinct_topics(rng: np.random.Generator, m: np.ndarray, T: int, M: int) -> np.ndarray:
    """[U, M] topics, the first m[u] of each row distinct (uniform without replacement)."""
    topics = rng.integers(0, T, (len(m), M))
    while True:
        srt = np.sort(np.where(np.arange(M)[None, :] < m[:, None], topics, -1 - np.arange(M)[None, :]), axis=1)
        bad = (np.diff(srt, axis=1) == 0).any(1)
        if not bad.any():
            return topics
        topics[bad] = rng.integers(0, T, (int(bad.sum()), M))


def _pick(rng: np.random.Generator, weights: np.ndarray, m: np.ndarray) -> np.ndarray:
    """One slot per row drawn from its weights (slots >= m have weight 0)."""
    r = rng.random(len(weights))[:, None]
    return np.minimum((np.cumsum(weights, axis=1) < r).sum(1), m - 1)


def generate_arrays(cfg: SyntheticConfig) -> dict[str, np.ndarray]:
    """The log as arrays (user, item, timestamp; users in order, steps in order) and the truth."""
    validate(cfg)
    rng = np.random.default_rng(cfg.seed)
    U, T, M, I = cfg.n_users, cfg.n_topics, cfg.max_interests, cfg.n_items
    chain_len = (I - np.arange(T) + T - 1) // T  # items t+1, t+1+T, ... belong to topic t
    m = rng.integers(1, M + 1, U)
    topics = _distinct_topics(rng, m, T, M)
    g = rng.gamma(2.0, size=(U, M)) * (np.arange(M)[None, :] < m[:, None])
    weights = g / g.sum(1, keepdims=True)
    pos = (rng.random((U, M)) * chain_len[topics]).astype(np.int64)
    length = rng.integers(cfg.min_len, cfg.max_len + 1, U)
    slot = _pick(rng, weights, m)
    t0 = rng.integers(0, 10_000, U) * 100
    rows = np.arange(U)
    items = np.zeros((U, cfg.max_len), dtype=np.int64)
    for step in range(cfg.max_len):
        if step:
            switch = (rng.random(U) < cfg.switch) & (m > 1)
            slot = np.where(switch, _pick(rng, weights, m), slot)
        noise = rng.random(U) < cfg.noise
        topic = topics[rows, slot]
        off_chain = rng.random(U) >= cfg.order if cfg.order < 1 else np.zeros(U, dtype=bool)
        p = np.where(off_chain, (rng.random(U) * chain_len[topic]).astype(np.int64),
                     (pos[rows, slot] + rng.integers(1, 3, U)) % chain_len[topic])
        pos[rows, slot] = np.where(noise, pos[rows, slot], p)
        items[:, step] = np.where(noise, rng.integers(1, I + 1, U), topic + 1 + p * T)
    keep = np.arange(cfg.max_len)[None, :] < length[:, None]
    user = np.repeat(np.arange(1, U + 1, dtype=np.int64), length)
    ts = (t0[:, None] + np.arange(cfg.max_len)[None, :])[keep]
    return {"user": user, "item": items[keep], "timestamp": ts.astype(np.int64),
            "user_topic": topics, "user_weight": weights, "user_m": m}


def item_titles(raw_ids: np.ndarray, n_topics: int) -> list[str]:
    """Titles in the generator's style ("<Topic> <episode>: <Adjective> <Noun>") for raw item ids."""
    names = topic_names(n_topics)
    t = (raw_ids - 1) % n_topics
    k = (raw_ids - 1) // n_topics
    return [f"{names[a]} {b + 1:02d}: {_ADJ[(i * 7) % len(_ADJ)]} {_NOUN[(i * 13 + a) % len(_NOUN)]}"
            for i, a, b in zip(raw_ids.tolist(), t.tolist(), k.tolist())]


def generate(cfg: SyntheticConfig = SCALE_DEFAULT) -> Interactions:
    """The log as an Interactions object (what make_r1 takes)."""
    a = generate_arrays(cfg)
    log = pd.DataFrame({"user": a["user"], "item": a["item"], "timestamp": a["timestamp"]})
    ids = np.arange(1, cfg.n_items + 1, dtype=np.int64)
    names = topic_names(cfg.n_topics)
    topic_of = (ids - 1) % cfg.n_topics
    items = pd.DataFrame({"title": item_titles(ids, cfg.n_topics),
                          "category": pd.Categorical.from_codes(topic_of, names).astype(str),
                          "topic": topic_of}, index=pd.Index(ids, name="item"))
    user_topics = {u + 1: [(int(t), float(w)) for t, w in zip(a["user_topic"][u, :k], a["user_weight"][u, :k])]
                   for u, k in enumerate(a["user_m"].tolist())}
    return Interactions(name=NAME, log=log, items=items, user_topics=user_topics, topic_names=names)


# -- the split cache --------------------------------------------------------------------------
def cache_key(cfg: SyntheticConfig, seed: int, maxlen: int, eval_users: int) -> str:
    blob = json.dumps({"cfg": asdict(cfg), "seed": seed, "maxlen": maxlen, "eval_users": eval_users, "v": _SPLIT_VERSION}, sort_keys=True)
    return hashlib.sha1(blob.encode()).hexdigest()[:12]


def default_cache_dir(data_dir: str | Path | None = None) -> Path:
    """Where split caches go: $EMBEDLAB_SCALE_DIR, else <data dir>/scale."""
    from engine.paths import data_dir as resolve

    return Path(os.environ.get("EMBEDLAB_SCALE_DIR") or resolve(data_dir) / "scale")


def _sample(ev: EvalSet, n: int, rng: np.random.Generator) -> EvalSet:
    if len(ev) <= n:
        return ev
    rows = np.sort(rng.choice(len(ev), n, replace=False))
    return EvalSet(users=ev.users[rows], hist=ev.hist[rows], lens=ev.lens[rows],
                   targets=[ev.targets[r] for r in rows], seen=[ev.seen[r] for r in rows])


_ARRAYS = ("item_raw_ids", "item_category", "item_count", "train_item_count", "train_users", "val_users", "test_users",
           "train_hist", "train_len", "train_target", "train_user", "item_topic")


def _save(split: R1Split, d: Path, user_topic: np.ndarray, user_weight: np.ndarray, user_m: np.ndarray) -> None:
    tmp = d.with_name(d.name + f".tmp{os.getpid()}")
    tmp.mkdir(parents=True, exist_ok=True)
    for name in _ARRAYS:
        np.save(tmp / f"{name}.npy", getattr(split, name))
    users = np.array(sorted(split.sequences), dtype=np.int64)
    lens = np.array([len(split.sequences[int(u)]) for u in users], dtype=np.int64)
    np.save(tmp / "seq_users.npy", users)
    np.save(tmp / "seq_lens.npy", lens)
    np.save(tmp / "seq_flat.npy", np.concatenate([split.sequences[int(u)] for u in users]))
    for which in ("val", "test"):
        ev: EvalSet = getattr(split, which)
        np.save(tmp / f"{which}_eval_users.npy", ev.users)
    np.save(tmp / "user_topic.npy", user_topic)
    np.save(tmp / "user_weight.npy", user_weight)
    np.save(tmp / "user_m.npy", user_m)
    (tmp / "meta.json").write_text(json.dumps({"dataset": split.dataset, "seed": split.seed, "maxlen": split.maxlen,
                                               "n_items": split.n_items, "category_names": split.category_names,
                                               "topic_names": split.topic_names}))
    os.replace(tmp, d)  # appears whole or not at all


def _eval_from(users: np.ndarray, sequences: dict[int, np.ndarray], maxlen: int) -> EvalSet:
    from engine.data.r1 import _eval_set

    return _eval_set(users, sequences, maxlen)


def _load(d: Path, cfg: SyntheticConfig) -> R1Split:
    meta = json.loads((d / "meta.json").read_text())
    arr = {name: np.load(d / f"{name}.npy", mmap_mode="c") for name in _ARRAYS}
    users, lens = np.load(d / "seq_users.npy"), np.load(d / "seq_lens.npy")
    flat = np.load(d / "seq_flat.npy", mmap_mode="c")
    sequences = dict(zip(users.tolist(), np.split(flat, np.cumsum(lens)[:-1])))
    ut, uw, um = np.load(d / "user_topic.npy"), np.load(d / "user_weight.npy"), np.load(d / "user_m.npy")
    user_topics = {u + 1: [(int(t), float(w)) for t, w in zip(ut[u, :k], uw[u, :k])] for u, k in enumerate(um.tolist())}
    maxlen = meta["maxlen"]
    raw = np.asarray(arr["item_raw_ids"])
    return R1Split(
        dataset=meta["dataset"], seed=meta["seed"], maxlen=maxlen, n_items=meta["n_items"],
        item_titles=["<pad>"] + item_titles(raw[1:], cfg.n_topics), category_names=meta["category_names"],
        sequences=sequences, val=_eval_from(np.load(d / "val_eval_users.npy"), sequences, maxlen),
        test=_eval_from(np.load(d / "test_eval_users.npy"), sequences, maxlen), user_topics=user_topics,
        topic_names=meta["topic_names"], **{k: v for k, v in arr.items()},
    )


def load_split(cfg: SyntheticConfig = SCALE_DEFAULT, seed: int = 0, maxlen: int = 20, cache_dir: str | Path | None = None,
               eval_users: int = EVAL_USERS, progress=lambda f, m: None) -> R1Split:
    """R1 split of the vectorised synthetic catalogue, built once per (cfg, seed, maxlen) and memory-mapped after."""
    d = Path(cache_dir or default_cache_dir()) / f"scale-{cache_key(cfg, seed, maxlen, eval_users)}"
    if not (d / "meta.json").exists():
        t0 = time.perf_counter()
        progress(0.0, f"generating {cfg.n_items:,} items x {cfg.n_users:,} users")
        a = generate_arrays(cfg)
        log = pd.DataFrame({"user": a["user"], "item": a["item"], "timestamp": a["timestamp"]})
        ids = np.arange(1, cfg.n_items + 1, dtype=np.int64)
        names = topic_names(cfg.n_topics)
        topic_of = (ids - 1) % cfg.n_topics
        items = pd.DataFrame({"title": pd.Series(ids).astype(str).to_numpy(),  # titles are rebuilt on load
                              "category": np.asarray(names, dtype=object)[topic_of], "topic": topic_of},
                             index=pd.Index(ids, name="item"))
        progress(0.3, "protocol R1 split")
        split = make_r1(Interactions(name=NAME, log=log, items=items, topic_names=names), seed, maxlen)
        rng = np.random.default_rng(seed + 7)
        split.val, split.test = _sample(split.val, eval_users, rng), _sample(split.test, eval_users, rng)
        progress(0.8, f"writing the cache ({time.perf_counter() - t0:.0f} s so far)")
        _save(split, d, a["user_topic"], a["user_weight"], a["user_m"])
    return _load(d, cfg)
