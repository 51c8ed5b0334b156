"""Configs, training and stored runs of the rankers (protocol R2).

    config = RankConfig(model="dien", dataset="synthetic", seed=0, recall_run="runs/recsys/mind-...")
    run = train(config)          # or reuses the stored run with the same config hash
    run.metrics["test/auc"], run.metrics["test/ndcg@10"], run.metrics["test/ndcg@10_recall_only"]

A run directory (<runs>/rank/<model>-<hash>) holds config.json, model.pt (state_dict), history.json
and metrics.json; it is built in a hidden folder beside it and renamed into place when complete
(`store.building`), so a killed training leaves no listed run. The ranker's weights do not depend on
the recall run (it only feeds the two-stage evaluation), so a run with the same training settings
and another recall run reuses the stored weights instead of training again (`training_key`).

Metric keys: {val,test}/auc (1:1), {val,test}/auc@1:100, and with a recall run
{val,test}/{recall,ndcg,hitrate}@10 (re-ranked) and the same with `_recall_only`.
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from engine.early_stopping import BestEpoch
from engine import store
from engine.data.r1 import R1Split
from engine.data.synthetic import SyntheticConfig
from engine.errors import ConfigError, Message
from engine.progress import Progress, silent
from engine.rank import protocol
from engine.rank.base import Ranker
from engine.rank.base_model import BaseModel
from engine.rank.dien import DIEN, EVOLUTIONS
from engine.rank.din import DIN
from engine.threads import set_threads

KIND = "rank"
RANK_CODE_VERSION = 1
MODELS: dict[str, type[Ranker]] = {"base": BaseModel, "din": DIN, "dien": DIEN}
LABELS = {"base": "BaseModel", "din": "DIN", "dien": "DIEN"}

# The defaults were chosen on validation users (seed 0, both datasets; bench/rank_selection.md): 4 uniform negatives
# per example, half of them from the positive's own category, the softmax loss over positive + negatives, epochs
# stopped on the ranker's validation NDCG@10 over all items. PAPERS are the DIN / DIEN papers' settings: 1 uniform
# negative, the log loss (and the epoch stops on validation AUC 1:1).
PAPERS = dict(negatives="uniform", n_negatives=1, category_share=0.0, loss="bce", select="auc")
LEGACY = dict(category_share=0.0, logq=False, select="auc")  # what runs stored before these fields existed were trained with
SELECT_KEY = {"ndcg": "val/ndcg@10_all", "auc": "val/auc"}
_DEFAULTS = dict(epochs=20, lr=2e-3, batch_size=512, patience=3, weight_decay=0.0)


@dataclass(frozen=True)
class RankConfig:
    """Everything a ranker run depends on (seed included) and the recall run it is evaluated behind."""

    model: str = "dien"  # "base", "din" or "dien"
    dataset: str = "synthetic"  # "ml-100k", "synthetic" or a path to a CSV/TSV log
    synthetic: SyntheticConfig | None = None
    seed: int = 0
    maxlen: int = 20
    dim: int = 32  # item id embedding
    cat_dim: int = 16  # category embedding; an item is e = [e_id ; e_cat], D = dim + cat_dim
    act: str = "prelu"  # "prelu" or "dice" (DIN eq. 9) in the MLPs
    evolution: str = "augru"  # DIEN only: "augru", "agru" or "aigru"
    aux_weight: float = 1.0  # DIEN only: alpha of eq. 7 (0: no auxiliary loss)
    negatives: str = "uniform"  # training negatives: "uniform" or "popularity"
    n_negatives: int = 4  # negatives per training example (DIN and DIEN papers: 1)
    category_share: float = 0.5  # chance that a negative is drawn from the positive's own category instead (R2 step 1)
    loss: str = "softmax"  # "bce" (the papers' log loss) or "softmax" (positive against its n negatives)
    logq: bool = False  # softmax loss only: subtract log Q(j) of the negative sampler from every logit (sampled-softmax correction)
    select: str = "ndcg"  # epoch selection on validation users: "ndcg" (the ranker's NDCG@10 over all items) or "auc" (AUC 1:1)
    epochs: int | None = None
    lr: float | None = None
    batch_size: int | None = None
    patience: int | None = None  # epochs without a better validation AUC before stopping
    weight_decay: float | None = None
    recall_run: str | None = None  # a recall run directory (R1) for the two-stage evaluation
    code_version: int = RANK_CODE_VERSION

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ConfigError(f"Unknown ranker {self.model!r}; choose one of {', '.join(MODELS)}.")
        for name, value in _DEFAULTS.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if isinstance(self.synthetic, dict):
            object.__setattr__(self, "synthetic", SyntheticConfig(**self.synthetic))
        if self.dataset == "synthetic" and self.synthetic is None:
            object.__setattr__(self, "synthetic", SyntheticConfig())
        if self.dataset != "synthetic" and self.synthetic is not None:
            object.__setattr__(self, "synthetic", None)
        if self.model != "dien":  # these settings mean nothing to BaseModel and DIN: keep them out of the hash
            object.__setattr__(self, "evolution", "augru")
            object.__setattr__(self, "aux_weight", 0.0)
        if self.evolution not in EVOLUTIONS:
            raise ConfigError(f"evolution must be one of {', '.join(EVOLUTIONS)}, not {self.evolution!r}.")
        if self.act not in ("prelu", "dice"):
            raise ConfigError(f"act must be 'prelu' or 'dice', not {self.act!r}.")
        if self.negatives not in ("uniform", "popularity"):
            raise ConfigError(f"negatives must be 'uniform' or 'popularity', not {self.negatives!r}.")
        if self.loss not in ("bce", "softmax"):
            raise ConfigError(f"loss must be 'bce' or 'softmax', not {self.loss!r}.")
        if not 0.0 <= self.category_share <= 1.0:
            raise ConfigError(f"category_share is a probability in [0, 1], not {self.category_share}.")
        if self.select not in ("ndcg", "auc"):
            raise ConfigError(f"select must be 'ndcg' or 'auc', not {self.select!r}.")
        if self.logq and self.loss != "softmax":
            raise ConfigError("logq corrects the softmax loss only: use loss='softmax' with logq.")
        if self.n_negatives < 1:
            raise ConfigError("n_negatives must be at least 1.")
        if self.aux_weight < 0 or self.batch_size < 1 or self.lr <= 0 or self.dim < 1 or self.cat_dim < 1:
            raise ConfigError("aux_weight must be >= 0, batch_size and the embedding sizes >= 1, lr > 0.")
        if self.recall_run is not None:
            object.__setattr__(self, "recall_run", str(self.recall_run))

    @property
    def label(self) -> str:
        if self.model != "dien":
            return LABELS[self.model]
        return f"DIEN ({self.evolution.upper()}, {'aux ' + format(self.aux_weight, 'g') if self.aux_weight > 0 else 'no aux'})"

    def to_dict(self) -> dict:
        return store.config_dict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "RankConfig":
        """A stored config; fields it predates take the values such runs were trained with (LEGACY), not today's defaults."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{**LEGACY, **{k: v for k, v in d.items() if k in names}})

    def replace(self, **changes) -> "RankConfig":
        return dataclasses.replace(self, **changes)


APP_EPOCHS = 10  # at most: the small ranker a page trains on a first visit stops on validation NDCG@10 (under a minute on synthetic data)


def app_default(dataset: str, seed: int, model: str = "dien", aux_weight: float = 1.0) -> RankConfig:
    """The small ranker the /rank page trains when none is stored for a dataset and seed (chosen settings, small sizes)."""
    return RankConfig(model=model, dataset=dataset, seed=seed, dim=16, cat_dim=8, epochs=APP_EPOCHS, aux_weight=aux_weight)


TRAINING_SETTINGS = ("negatives", "n_negatives", "category_share", "loss", "select", "logq")


def settings_kind(config: RankConfig) -> str:
    """"default" (the validation-chosen settings), "papers" (PAPERS) or "custom": how a run's negatives, loss and
    stopping rule compare, so two runs of the same model can be told apart."""
    mine = {k: getattr(config, k) for k in TRAINING_SETTINGS}
    if mine == {k: getattr(RankConfig(), k) for k in TRAINING_SETTINGS}:
        return "default"
    return "papers" if mine == {k: getattr(RankConfig(**PAPERS), k) for k in TRAINING_SETTINGS} else "custom"


def training_key(config: RankConfig) -> str:
    """Hash of everything the ranker's weights depend on (the recall run is not among them)."""
    return store.config_hash(config.replace(recall_run=None))


@dataclass
class RankRun:
    config: RankConfig
    model: Ranker  # eval mode
    split: R1Split
    metrics: dict
    history: list[dict] = field(default_factory=list)
    path: Path | None = None


def split_of(config: RankConfig, data_dir=None) -> R1Split:
    from engine.recsys.run import get_split

    return get_split(config.dataset, config.seed, config.maxlen, config.synthetic, data_dir)


def build_ranker(config: RankConfig, split: R1Split) -> Ranker:
    """A fresh ranker for a config (weights drawn from torch's current seed)."""
    kw = dict(dim=config.dim, cat_dim=config.cat_dim, maxlen=config.maxlen, act=config.act)
    if config.model == "dien":
        kw.update(evolution=config.evolution, aux_weight=config.aux_weight)
    model = MODELS[config.model](split.n_items, torch.as_tensor(split.item_category), **kw)
    model.loss_kind = config.loss
    return model


# -- training -------------------------------------------------------------------------------------
def train_epoch(model: Ranker, split: R1Split, config: RankConfig, rng: np.random.Generator, opt,
                progress: Progress = silent, epoch: int = 1) -> dict:
    """One pass over the training examples (R2 step 1): the positive and its `n_negatives` negatives per example."""
    n = len(split.train_target)
    order = rng.permutation(n)
    pos = split.train_target
    neg = protocol.training_negatives(rng, split, pos, config.n_negatives, config.negatives, config.category_share)  # [N, n]
    aux_neg = None
    if isinstance(model, DIEN) and model.aux_weight > 0:
        aux_neg = protocol.sample_negatives(rng, split.n_items, split.train_hist, protocol.sampling_probs(split, config.negatives))  # [N, L], != the step's item
    hist, lens = torch.from_numpy(split.train_hist), torch.from_numpy(split.train_len)
    items_np = np.concatenate([pos[:, None], neg], 1)  # [N, 1 + n]: positive, then negatives
    items = torch.from_numpy(items_np)
    log_q = (torch.from_numpy(protocol.proposal_log_q(split, items_np, pos, config.negatives, config.category_share)).float()
             if config.logq else None)
    labels = torch.zeros(config.batch_size, 1 + config.n_negatives)
    labels[:, 0] = 1.0
    model.train()
    totals: dict[str, float] = {}
    batches = 0
    t0 = time.perf_counter()
    for i in range(0, n, config.batch_size):
        idx = torch.from_numpy(order[i : i + config.batch_size])
        an = torch.from_numpy(aux_neg[idx.numpy()]) if aux_neg is not None else None
        loss, parts = model.loss(hist[idx], lens[idx], items[idx], labels[: len(idx)], an, None if log_q is None else log_q[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        for k, v in parts.items():
            totals[k] = totals.get(k, 0.0) + v
        batches += 1
        if batches % 40 == 0:
            progress(min(1.0, (epoch - 1 + i / n) / config.epochs), Message(f"epoch {epoch}: loss {totals['target'] / batches:.4f}", "progress_batch", epoch=epoch, loss=f"{totals['target'] / batches:.4f}"))
    row = {f"loss/{k}": v / max(1, batches) for k, v in totals.items()}
    row["seconds"] = time.perf_counter() - t0
    return row


def fit(model: Ranker, split: R1Split, config: RankConfig, progress: Progress = silent,
        on_epoch: Callable[[list[dict]], None] | None = None) -> list[dict]:
    """Adam; after every epoch validation AUC 1:1 and the ranker's own NDCG@10 over all items; early stopping on
    `config.select`; ends with the best validation epoch's weights."""
    rng = np.random.default_rng(config.seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    val_neg = protocol.auc_negatives(split, split.val, 1)
    history: list[dict] = []
    stopper = BestEpoch(config.patience)
    for epoch in range(1, config.epochs + 1):
        row = {"epoch": epoch, **train_epoch(model, split, config, rng, opt, progress, epoch)}
        row["val/auc"] = protocol.auc(model, split, split.val, 1, val_neg)
        row["val/ndcg@10_all"] = protocol.full_ranking(model, split.val)["ndcg@10"]
        history.append(row)
        if on_epoch is not None:
            on_epoch(list(history))
        progress(epoch / config.epochs, Message(f"epoch {epoch}: loss {row['loss/target']:.4f}, val AUC {row['val/auc']:.4f}, val NDCG@10 {row['val/ndcg@10_all']:.4f}",
                                                   "rank_progress_epoch", epoch=epoch, loss=f"{row['loss/target']:.4f}", auc=f"{row['val/auc']:.4f}",
                                                   ndcg=f"{row['val/ndcg@10_all']:.4f}"))
        if stopper.update(model, row[SELECT_KEY[config.select]]):
            break
    stopper.restore(model)
    return history


def _stored_weights(config: RankConfig, runs_root=None) -> tuple[dict, list[dict], dict] | None:
    """The weights, history and metrics of a stored run with the same training settings (any recall run)."""
    key = training_key(config)
    for p in store.list_runs(KIND, runs_root):
        try:
            if training_key(RankConfig.from_dict(store.load_json(p / "config.json"))) == key:
                hist = store.load_json(p / "history.json") if (p / "history.json").exists() else []
                return store.load_state(p / "model.pt"), hist, store.load_json(p / "metrics.json")
        except (ConfigError, TypeError, json.JSONDecodeError, OSError):
            continue
    return None


def load_recall(recall_run: str | Path, config: RankConfig, data_dir=None):
    """The recall run (engine.recsys.run.load_run), checked to share the ranker's split."""
    from engine.recsys.run import load_run

    rec = load_run(recall_run, data_dir)
    rc = rec.config
    if (rc.dataset, rc.seed, rc.maxlen, rc.synthetic) != (config.dataset, config.seed, config.maxlen, config.synthetic):
        raise ConfigError(f"The recall run {recall_run} was trained on {rc.dataset} seed {rc.seed} (maxlen {rc.maxlen}), "
                          f"the ranker on {config.dataset} seed {config.seed} (maxlen {config.maxlen}): pick a recall run of the same split.",
                          code="rank_recall_split", run=str(recall_run), dataset=rc.dataset, seed=rc.seed, maxlen=rc.maxlen,
                          rank_dataset=config.dataset, rank_seed=config.seed, rank_maxlen=config.maxlen)
    return rec


def evaluate(model: Ranker, split: R1Split, recall_model=None, known: dict | None = None) -> dict[str, float]:
    """Every R2 metric on validation and test users, flat keys (AUCs taken from `known` when it has them:
    they do not depend on the recall run)."""
    out: dict[str, float] = {}
    for part, es in (("val", split.val), ("test", split.test)):
        for ratio in protocol.AUC_RATIOS:
            key = f"{part}/auc" + ("" if ratio == 1 else f"@1:{ratio}")
            out[key] = known[key] if known and key in known else protocol.auc(model, split, es, ratio)
        alone = {f"{part}/{k}_all": v for k, v in protocol.full_ranking(model, es).items()}  # the ranker alone, all items
        out.update({k: known[k] if known and k in known else v for k, v in alone.items()})
        if recall_model is not None:
            out.update({f"{part}/{k}": v for k, v in protocol.two_stage(model, recall_model, es).metrics.items()})
    return out


def train(config: RankConfig, data_dir=None, runs_root=None, progress: Progress = silent,
          on_epoch: Callable[[list[dict]], None] | None = None, out: str | Path | None = None,
          threads: int | None = None, force: bool = False) -> RankRun:
    """Train `config` (or reuse its stored run / stored weights) and write the run directory."""
    path = Path(out) if out else store.run_path(KIND, config.model, config, runs_root)
    if not force and store.is_complete(path) and store.config_hash(store.load_json(path / "config.json")) == store.config_hash(config):
        progress(1.0, Message(f"reusing {path}", "progress_reusing", path=str(path)))
        return load_run(path, data_dir)
    set_threads(threads)
    progress(0.0, Message("preparing the R1 split", "progress_split"))
    split = split_of(config, data_dir)
    recall = load_recall(config.recall_run, config, data_dir) if config.recall_run else None
    torch.manual_seed(config.seed)
    model = build_ranker(config, split)
    stored = None if force else _stored_weights(config, runs_root)
    t0 = time.perf_counter()
    if stored is not None:
        model.load_state_dict(stored[0])
        history = stored[1]
        progress(0.5, Message("reusing the weights of a stored run with the same training settings", "rank_progress_weights"))
    else:
        history = fit(model, split, config, progress, on_epoch)
    train_seconds = time.perf_counter() - t0
    model.eval()
    progress(0.95, Message("evaluating AUC and two-stage metrics", "rank_progress_eval"))
    metrics = evaluate(model, split, recall.model if recall else None, known=stored[2] if stored else None)
    secs = [h["seconds"] for h in history]
    metrics.update({
        "seconds_per_epoch": float(np.median(secs)) if secs else 0.0,
        "epochs_run": len(history),
        "best_epoch": int(max(history, key=lambda h: h.get(SELECT_KEY[config.select], h["val/auc"]))["epoch"]) if history else 0,
        "train_seconds": train_seconds if stored is None else stored[2].get("train_seconds", 0.0),
        "weights_reused": stored is not None,
        "n_parameters": int(sum(p.numel() for p in model.parameters())),
        "threads": int(torch.get_num_threads()),
    })
    with store.building(path, replace=force) as tmp:  # a temporary folder, renamed to `path` once complete
        store.save_json(tmp / "config.json", config.to_dict())
        store.save_state(tmp / "model.pt", model.state_dict())
        store.save_json(tmp / "history.json", history)
        store.save_json(tmp / "metrics.json", metrics)
    progress(1.0, Message(f"done: test AUC {metrics['test/auc']:.4f}", "rank_progress_done", auc=f"{metrics['test/auc']:.4f}"))
    return RankRun(config=config, model=model, split=split, metrics=metrics, history=history, path=path)


def load_run(path: str | Path, data_dir=None) -> RankRun:
    """A stored ranker run: config, model (eval mode, weights loaded), split, metrics and history."""
    path = Path(path)
    if not store.is_complete(path):
        raise ConfigError(f"{path} is not a complete ranker run (config.json, model.pt and metrics.json); train it first.",
                          code="rank_incomplete", path=str(path))
    config = RankConfig.from_dict(store.load_json(path / "config.json"))
    if config.code_version != RANK_CODE_VERSION:
        raise ConfigError(f"{path} was trained by another version of the ranker code; train it again.", code="rank_old_code", path=str(path))
    split = split_of(config, data_dir)
    model = build_ranker(config, split)
    model.load_state_dict(store.load_state(path / "model.pt"))
    model.eval()
    hist = store.load_json(path / "history.json") if (path / "history.json").exists() else []
    return RankRun(config=config, model=model, split=split, metrics=store.load_json(path / "metrics.json"), history=hist, path=path)


def list_runs(runs_root=None) -> list[dict]:
    """Stored complete ranker runs of the current code, newest first: {"path", "config", "metrics"}."""
    out = []
    for p in store.list_runs(KIND, runs_root):
        try:
            cfg = RankConfig.from_dict(store.load_json(p / "config.json"))
            if cfg.code_version == RANK_CODE_VERSION:
                out.append({"path": p, "config": cfg, "metrics": store.load_json(p / "metrics.json")})
        except (ConfigError, TypeError, json.JSONDecodeError):
            continue
    return out
