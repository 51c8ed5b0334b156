"""Configs, training and stored runs of the recall models (protocol R1).

    config = RecsysConfig(model="mind", dataset="ml-100k", seed=0)
    run = train(config)              # or reuses the stored run with the same config hash
    run.metrics["test/recall@50"], run.model.encode(...), run.split.test

A run directory holds config.json, model.pt (state_dict), history.json, metrics.json (written
last) and test_embeddings.npz (numeric arrays only): user_ids, user_vectors [U, K, d] (an interest
a user does not have is an all-zero row), interest_mask [U, K], item_vectors [I+1, d] (row r = item
index r, row 0 padding) and item_raw_ids [I+1]. The test metrics can be recomputed from that file
with the protocol alone (`recompute_metrics`).
"""
from __future__ import annotations

import dataclasses
import json
import resource
import sys
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from engine import store
from engine.data.datasets import load_dataset
from engine.early_stopping import BestEpoch
from engine.data.r1 import EvalSet, R1Split, make_r1
from engine.data import scale
from engine.data.synthetic import SyntheticConfig
from engine.errors import ConfigError, Message
from engine.progress import Progress, silent
from engine.recsys.base import RecModel
from engine.recsys.comirec_dr import ComiRecDR
from engine.recsys import distributed
from engine.recsys.comirec_sa import ComiRecSA
from engine.recsys.evaluate import evaluate
from engine.recsys.gru4rec import GRU4Rec
from engine.recsys.interests import interest_metrics
from engine.recsys.mind import MIND
from engine.recsys.mostpop import MostPop
from engine.recsys.optim import make_optimizer
from engine.recsys.version import CODE_VERSION, code_version, is_current
from engine.recsys.youtubednn import YouTubeDNN
from engine.threads import set_threads

KIND = "recsys"
MODELS: dict[str, type[RecModel]] = {
    "mostpop": MostPop,
    "youtubednn": YouTubeDNN,
    "gru4rec": GRU4Rec,
    "mind": MIND,
    "comirec-dr": ComiRecDR,
    "comirec-sa": ComiRecSA,
}

# Training settings per model where the shared default does not suit, chosen on ML-100K R1
# VALIDATION users (never test): batch 512 with lr 2e-3; dropout 0.5 on behaviour embeddings and a
# little weight decay close most of the gap between multi-interest and single-vector models. The
# multi-interest models' validation Recall@50 (94 users) dips for a few epochs before it rises
# again, so they get a longer patience; epoch caps sit where the mean validation curve over seeds
# 0-2 flattens (MIND ~14, ComiRec-DR ~13 epochs; 30-36-epoch curves, 2026-11-27). ComiRec-SA's
# curve plateaus from epoch ~4 to ~12 and rises again to ~24-28: patience 8 stopped one seed at
# epoch 12 (validation 0.356, mean of seeds 0-2); patience 12 and 32 epochs reach 0.370. ComiRec-DR
# does better with less dropout: 0.347 at 0.5, 0.356 at 0.3, 0.357 at 0.2 (2026-11-28, 1 thread).
# Then batch size (dropout 0.3, lr 3e-3): 0.350 at 192, 0.371 at 256, 0.359 at 384, 0.356 at 512;
# at 256, lr 2e-3 0.358, dropout 0.2 0.357, 26 epochs 0.371 (no seed improves after 18); lr 1e-3 at
# 128 0.356; cosine decay 0.338; W started at I + noise 0.362-0.364 at 256-512, at N(0, 1) as in the
# authors' code 0.336. Batch 256 is the best mean, but its neighbours do not confirm it: seed-to-
# seed noise on 94 validation users is about +-0.015, so it may be chance (seed 0 gives most of it).
# The batch-size rows are reproducible: bench/validation/ (`recsys bench --split val`).
# `recsys bench --jobs 2` (6 models x 3 seeds) stays under 15 minutes on 2 cores with these caps.
_COMMON = dict(epochs=30, lr=2e-3, batch_size=512, patience=3, dropout=0.5, weight_decay=1e-5, p=2.0, interest_reg=0.0, couple_temp=1.0, seeded_routing=False)
MODEL_DEFAULTS: dict[str, dict] = {
    "mostpop": dict(epochs=0),
    "youtubednn": dict(dropout=0.2, weight_decay=0.0),  # seed 0 val R@50 0.420
    "gru4rec": {},  # seed 0 val R@50 0.414
    "mind": dict(epochs=20, patience=6, seeded_routing=True, p=float("inf")),  # val R@50 0.371 (mean of seeds 0-2, 1 thread)
    "comirec-dr": dict(lr=3e-3, batch_size=256, weight_decay=0.0, dropout=0.3, epochs=18, patience=6, seeded_routing=True, couple_temp=0.1),  # val R@50 0.371 (batch 512: 0.356)
    "comirec-sa": dict(epochs=32, patience=12, seeded_routing=True),  # val R@50 0.370 (patience 8, 26 epochs: 0.356)
}


PAPER = dict(interest_reg=0.0, couple_temp=1.0, seeded_routing=False, p=2.0)  # the remedy's knobs at their paper-as-written values


@dataclass(frozen=True)
class RecsysConfig:
    """Everything a recall run depends on. Fields left None take the model's default (MODEL_DEFAULTS)."""

    model: str = "youtubednn"
    dataset: str = "ml-100k"  # "ml-100k", "synthetic", "synthetic-scale" or a path to a CSV/TSV log
    synthetic: SyntheticConfig | None = None  # only for the synthetic datasets (None: SyntheticConfig() / scale.SCALE_DEFAULT)
    seed: int = 0
    maxlen: int = 20
    dim: int = 64
    k: int = 4  # interests (multi-interest models)
    iterations: int = 3  # routing iterations (MIND, ComiRec-DR)
    loss: str = "softmax"  # "softmax" (full, CrossEntropyLoss) or "sampled"
    n_negatives: int = 256  # popularity-sampled negatives of the sampled softmax
    readout: str = "last"  # GRU4Rec: "last" or "mean"
    mask_history: bool = True  # leave history items out of the training softmax
    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    patience: int | None = None  # epochs without a better validation Recall@50 before stopping
    dropout: float | None = None  # on behaviour embeddings
    weight_decay: float | None = None
    p: float | None = None  # MIND label-aware attention power
    interest_reg: float | None = None  # remedy for interest collapse: weight of the interests' squared-cosine penalty
    couple_temp: float | None = None  # remedy: temperature of the last routing iteration's couplings (1 = the paper)
    seeded_routing: bool | None = None  # remedy: routing starts from K behaviours spread over the history
    paper_faithful: bool = False  # the paper as written: no remedy (interest_reg 0, couple_temp 1)
    code_version: int = CODE_VERSION  # the model code the run was trained with (part of the run's hash)

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ConfigError(f"Unknown model {self.model!r}; choose one of {', '.join(MODELS)}.")
        defaults = {**_COMMON, **MODEL_DEFAULTS[self.model]}
        if self.paper_faithful:
            defaults.update(PAPER)  # knobs left unset take the paper's values
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if isinstance(self.synthetic, dict):
            object.__setattr__(self, "synthetic", SyntheticConfig(**self.synthetic))
        if self.dataset == "synthetic" and self.synthetic is None:
            object.__setattr__(self, "synthetic", SyntheticConfig())
        if self.dataset == scale.NAME and self.synthetic is None:  # the million-item catalogue (engine/data/scale.py)
            object.__setattr__(self, "synthetic", scale.SCALE_DEFAULT)
        if self.dataset not in ("synthetic", scale.NAME) and self.synthetic is not None:
            object.__setattr__(self, "synthetic", None)
        if self.loss not in ("softmax", "sampled"):
            raise ConfigError(f"loss must be 'softmax' or 'sampled', not {self.loss!r}.")
        if self.readout not in ("last", "mean"):
            raise ConfigError(f"readout must be 'last' or 'mean', not {self.readout!r}.")
        if self.maxlen < 1 or self.dim < 1 or self.k < 1 or self.iterations < 1:
            raise ConfigError("maxlen, dim, k and iterations must all be at least 1.")
        if self.batch_size < 1 or self.lr <= 0:
            raise ConfigError("batch_size must be at least 1 and lr above 0.")

    def to_dict(self) -> dict:
        return store.config_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RecsysConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{**{k: v for k, v in d.items() if k in names}, "code_version": code_version(d)})

    def replace(self, **changes) -> "RecsysConfig":
        return dataclasses.replace(self, **changes)

    @property
    def remedy(self) -> bool:
        """Whether this multi-interest run trains with a remedy for interest collapse (not the paper as written)."""
        return MODELS[self.model].multi_interest and any(getattr(self, k) != v for k, v in PAPER.items())

    def variant(self, paper: bool) -> "RecsysConfig":
        """The same run as the paper writes it (`paper`) or with the model's default remedy."""
        return dataclasses.replace(self, paper_faithful=paper, **{k: None for k in PAPER})


@dataclass
class TrainedRun:
    config: RecsysConfig
    model: RecModel  # in eval mode
    split: R1Split
    metrics: dict
    history: list[dict] = field(default_factory=list)
    path: Path | None = None


# -- data -------------------------------------------------------------------------------------
def get_split(dataset: str, seed: int, maxlen: int = 20, synthetic: SyntheticConfig | None = None, data_dir=None) -> R1Split:
    """The R1 split of a dataset (cached in-process by dataset, seed, maxlen)."""
    return _split(dataset, seed, maxlen, synthetic, str(data_dir) if data_dir else None)


@lru_cache(maxsize=16)
def _split(dataset, seed, maxlen, synthetic, data_dir) -> R1Split:
    if dataset == scale.NAME:  # vectorised generator, split cached on disk and memory-mapped
        return scale.load_split(synthetic, seed, maxlen, scale.default_cache_dir(data_dir))
    data = load_dataset(dataset, data_dir, synthetic_config=synthetic)
    return make_r1(data, seed, maxlen)


def split_of(config: RecsysConfig, data_dir=None) -> R1Split:
    return get_split(config.dataset, config.seed, config.maxlen, config.synthetic, data_dir)


# -- models -----------------------------------------------------------------------------------
def build_model(config: RecsysConfig, split: R1Split) -> RecModel:
    """A fresh model for a config (weights drawn from torch's current seed)."""
    cls = MODELS[config.model]
    kw = dict(loss=config.loss, n_negatives=config.n_negatives, mask_history=config.mask_history, dropout=config.dropout)
    if cls.multi_interest:
        kw["interest_reg"] = config.interest_reg
    if cls is GRU4Rec:
        kw["readout"] = config.readout
    if cls in (MIND, ComiRecDR):
        kw.update(k=config.k, iterations=config.iterations, couple_temp=config.couple_temp, seeded=config.seeded_routing)
    if cls is ComiRecSA:
        kw.update(k=config.k, seeded=config.seeded_routing)
    if cls is MIND:
        kw.update(p=config.p)
    model = cls(split.n_items, dim=config.dim, maxlen=config.maxlen, **kw)
    model.set_item_counts(split.train_item_count)
    return model


@torch.inference_mode()
def encode_users(model: RecModel, hist: np.ndarray, lens: np.ndarray, batch_size: int = 1024, **kw) -> tuple[np.ndarray, np.ndarray]:
    """User vectors [U, K, d] (missing interests zeroed) and interest mask [U, K] for padded histories."""
    was = model.training
    model.eval()
    vecs, masks = [], []
    for i in range(0, len(hist), batch_size):
        enc = model.encode(torch.as_tensor(hist[i : i + batch_size]), torch.as_tensor(lens[i : i + batch_size]), **kw)
        vecs.append((enc.vectors * enc.mask[:, :, None]).numpy())
        masks.append(enc.mask.numpy())
    model.train(was)
    return np.concatenate(vecs).astype(np.float32), np.concatenate(masks)


def evaluate_model(model: RecModel, evalset: EvalSet, split: R1Split, separation: bool = False, seed: int = 0) -> dict[str, float]:
    """R1 metrics of a model on the validation or test users; with `separation`, a multi-interest
    model's S1 figures (and k-means') as well."""
    vecs, mask = encode_users(model, evalset.hist, evalset.lens)
    items = model.item_vectors().detach().numpy()
    out = evaluate(vecs, items, evalset, split.item_category, interest_mask=mask)
    if separation and model.multi_interest:
        out.update(interest_metrics(vecs, mask, items, evalset, split, seed))
    return out


# -- training ---------------------------------------------------------------------------------
def param_groups(model: RecModel, weight_decay: float) -> list[dict]:
    """Trainable parameters with `weight_decay`, except those the model exempts (no_weight_decay)."""
    exempt = model.no_weight_decay()
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in named if n not in exempt], "weight_decay": weight_decay},
        {"params": [p for n, p in named if n in exempt], "weight_decay": 0.0},
    ]
    return [g for g in groups if g["params"]]


class Fitting:
    """One training run, an epoch at a time: `fit` steps it to the end; bench/peer_speed.py steps it
    in turn with another library's trainer. Adam on the training examples, validation Recall@50 after
    every epoch, early stopping; `finish` leaves the model with its best validation epoch's weights."""

    def __init__(self, model: RecModel, split: R1Split, config: RecsysConfig, progress: Progress = silent,
                 on_epoch: Callable[[list[dict]], None] | None = None) -> None:
        self.model, self.split, self.config, self.progress, self.on_epoch = model, split, config, progress, on_epoch
        self.history: list[dict] = []
        self.done = config.epochs <= 0 or not any(p.requires_grad for p in model.parameters())
        self.hist = torch.from_numpy(split.train_hist)  # [N, L]
        self.lens = torch.from_numpy(split.train_len)  # [N]
        self.target = torch.from_numpy(split.train_target)  # [N]
        self.rng = np.random.default_rng(config.seed)  # batch order
        groups = [] if self.done else param_groups(model, config.weight_decay)  # MostPop trains nothing
        self.opt = make_optimizer(model, groups, config.lr) if groups else None  # Adam (SparseAdam for a sparse item table)
        self.stopper = BestEpoch(config.patience)
        self.ctx = distributed.current()  # None unless launched by torchrun with --distributed
        self.step_loss = distributed.loss_fn(model, self.ctx)  # model.loss, or through DDP

    def train_epoch(self) -> tuple[float, float]:
        """One pass over the training examples in a fresh order: (mean batch loss, seconds)."""
        model, config, n = self.model, self.config, len(self.target)
        epoch = len(self.history) + 1
        model.train()
        order = torch.from_numpy(self.rng.permutation(n))
        t0 = time.perf_counter()
        if self.ctx is None:  # the epoch's examples gathered once in batch order; a batch is then a slice (a view)
            hist, lens, target = self.hist[order], self.lens[order], self.target[order]
            steps = ((i, slice(i, i + config.batch_size)) for i in range(0, n, config.batch_size))
        else:
            hist, lens, target = self.hist, self.lens, self.target
            steps = distributed.batches(order, config.batch_size, self.ctx)  # this process's share of each batch
        total, batches = 0.0, 0
        for i, idx in steps:
            loss = self.step_loss(hist[idx], lens[idx], target[idx])
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            total += loss.item()
            batches += 1
            if batches % 5 == 0:  # also where a job checks for cancellation
                self.progress((epoch - 1 + i / n) / config.epochs, Message(f"epoch {epoch}: loss {total / batches:.4f}", "progress_batch", epoch=epoch, loss=f"{total / batches:.4f}"))
        return total / max(1, batches), time.perf_counter() - t0

    def step(self) -> dict:
        """Train one epoch, validate, update early stopping; the epoch's history row."""
        epoch = len(self.history) + 1
        loss, seconds = self.train_epoch()
        val = evaluate_model(self.model, self.split.val, self.split)
        row = {"epoch": epoch, "loss": loss, "val/recall@50": val["recall@50"], "val/ndcg@50": val["ndcg@50"], "seconds": seconds}
        self.history.append(row)
        if self.on_epoch is not None:
            self.on_epoch(list(self.history))
        self.progress(epoch / self.config.epochs, Message(f"epoch {epoch}: loss {row['loss']:.4f}, val Recall@50 {row['val/recall@50']:.4f}", "progress_epoch",
                                                          epoch=epoch, loss=f"{row['loss']:.4f}", recall=f"{row['val/recall@50']:.4f}"))
        self.done = self.stopper.update(self.model, row["val/recall@50"]) or epoch >= self.config.epochs
        return row

    def finish(self) -> list[dict]:
        """The best validation epoch's weights back in the model (eval mode); the history."""
        if self.history:
            self.stopper.restore(self.model)
        return self.history


def fit(
    model: RecModel,
    split: R1Split,
    config: RecsysConfig,
    progress: Progress = silent,
    on_epoch: Callable[[list[dict]], None] | None = None,
) -> list[dict]:
    """Adam on the training examples, validation Recall@50 after every epoch, early stopping; the model
    ends with the weights of its best validation epoch. Returns the history."""
    run = Fitting(model, split, config, progress, on_epoch)
    while not run.done:
        run.step()
    return run.finish()


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # Linux: kilobytes


def train(
    config: RecsysConfig,
    data_dir=None,
    runs_root=None,
    progress: Progress = silent,
    on_epoch: Callable[[list[dict]], None] | None = None,
    out: str | Path | None = None,
    threads: int | None = None,
    force: bool = False,
) -> TrainedRun:
    """Train `config` (or reuse its complete stored run) and write the run directory."""
    path = Path(out) if out else store.run_path(KIND, config.model, config, runs_root)
    if not force and store.is_complete(path) and store.config_hash(store.read_json(path / "config.json")) == store.config_hash(config):
        progress(1.0, Message(f"reusing {path}", "progress_reusing", path=str(path)))
        return load_run(path, data_dir)
    if path.exists() and (why := store.problem(path)) is not None:
        print(f"{why.split(' Retrain it')[0].rstrip('.')}; training it again.", file=sys.stderr)  # the CLI's and the server log's message
    set_threads(threads)
    progress(0.0, Message("preparing the R1 split", "progress_split"))
    split = split_of(config, data_dir)
    torch.manual_seed(config.seed)
    model = build_model(config, split)
    t0 = time.perf_counter()
    history = fit(model, split, config, progress, on_epoch)
    train_seconds = time.perf_counter() - t0
    if not distributed.is_main():  # torchrun: rank 0 alone evaluates and writes the run
        return TrainedRun(config=config, model=model, split=split, metrics={}, history=history, path=path)
    model.eval()
    test_vecs, test_mask = encode_users(model, split.test.hist, split.test.lens)
    items = model.item_vectors().detach().numpy().astype(np.float32)
    test = evaluate(test_vecs, items, split.test, split.item_category, interest_mask=test_mask)
    if model.multi_interest:
        test.update(interest_metrics(test_vecs, test_mask, items, split.test, split, config.seed))
    val = evaluate_model(model, split.val, split, separation=True, seed=config.seed)
    secs = [h["seconds"] for h in history]
    metrics = {f"test/{k}": v for k, v in test.items()}
    metrics.update({f"val/{k}": v for k, v in val.items()})
    metrics.update(
        {
            "seconds_per_epoch": float(np.median(secs)) if secs else 0.0,
            "epochs_run": len(history),
            "best_epoch": int(max(history, key=lambda h: h["val/recall@50"])["epoch"]) if history else 0,
            "train_seconds": train_seconds,
            "peak_rss_mb": _peak_rss_mb(),
            "n_parameters": int(sum(p.numel() for p in model.parameters())),
            "train_examples": int(len(split.train_target)),
            "threads": int(torch.get_num_threads()),
        }
    )
    with store.building(path, replace=force) as tmp:  # a temporary folder, renamed to `path` once complete
        store.save_json(tmp / "config.json", config.to_dict())
        store.save_state(tmp / "model.pt", model.state_dict())
        store.save_json(tmp / "history.json", history)
        np.savez(
            tmp / "test_embeddings.npz",
            user_ids=split.test.users.astype(np.int64),
            user_vectors=test_vecs,
            interest_mask=test_mask,
            item_vectors=items,
            item_raw_ids=split.item_raw_ids.astype(np.int64),
        )
        store.save_json(tmp / "metrics.json", metrics)
    progress(1.0, Message(f"done: test Recall@50 {metrics['test/recall@50']:.4f}", "progress_done", recall=f"{metrics['test/recall@50']:.4f}"))
    return TrainedRun(config=config, model=model, split=split, metrics=metrics, history=history, path=path)


def load_run(path: str | Path, data_dir=None) -> TrainedRun:
    """A stored run: config, model (eval mode, weights loaded), split, metrics and history."""
    path = Path(path)
    if (why := store.problem(path)) is not None:
        raise store.damaged_error(why)
    config = RecsysConfig.from_dict(store.read_json(path / "config.json"))
    if config.code_version != CODE_VERSION:
        raise ConfigError(f"{path} was trained by an older version of the model code ({config.code_version}, now {CODE_VERSION}); train it again.",
                          code="run_old_code", path=str(path), old=config.code_version, now=CODE_VERSION)
    split = split_of(config, data_dir)
    model = build_model(config, split)
    model.load_state_dict(store.load_state(path / "model.pt"))
    model.eval()
    hist_file = path / "history.json"
    history = store.read_json(hist_file) if hist_file.exists() else []
    return TrainedRun(config=config, model=model, split=split, metrics=store.read_json(path / "metrics.json"), history=history, path=path)


def list_runs(runs_root=None) -> list[dict]:
    """Stored complete recsys runs, newest first: {"path", "config", "metrics"}."""
    out = []
    for p in store.list_runs(KIND, runs_root):
        try:
            raw = store.load_json(p / "config.json")
            if is_current(raw):
                out.append({"path": p, "config": RecsysConfig.from_dict(raw), "metrics": store.load_json(p / "metrics.json")})
        except (ConfigError, TypeError, json.JSONDecodeError):
            continue
    return out


def recompute_metrics(npz_path: str | Path, split: R1Split, seed: int = 0) -> dict[str, float]:
    """Test metrics from test_embeddings.npz and the protocols alone (R1; S1 when a user has several
    vectors; an interest is a nonzero row)."""
    with np.load(npz_path, allow_pickle=False) as z:
        users, uv, iv = z["user_ids"], z["user_vectors"], z["item_vectors"]
    if not np.array_equal(users, split.test.users):
        raise ConfigError("These embeddings belong to another split's test users; rebuild the split with the run's dataset and seed.",
                          code="embeddings_other_split")
    mask = np.abs(uv).sum(-1) > 0
    mask[~mask.any(1), 0] = True  # a user needs one vector even if it is zero
    out = evaluate(uv, iv, split.test, split.item_category, interest_mask=mask)
    if uv.shape[1] > 1:
        out.update(interest_metrics(uv, mask, iv, split.test, split, seed))
    return out
