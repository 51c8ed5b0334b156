"""Fine-tuning strategies for PneumoniaMNIST under protocol X1, and the run directory they write.

Strategies: `linear-probe` (frozen ImageNet backbone; the head is trained on cached embeddings),
`partial` (last two stages + head conv + classifier), `full` (everything; the backbone at `backbone_lr_ratio`
times the head's learning rate) and `scratch` (a small CNN, the baseline). All use AdamW with a cosine
schedule, a class-balanced loss (each class weighs half), light X-ray augmentation (small rotation,
translation and zoom, no flips: the heart is on the left) and choose their epoch by val AUC. A 2-parameter
logit calibration is then fitted on val only; test is touched once, at the end.
"""
from __future__ import annotations

import copy
import csv
import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

from engine.data.medmnist import SPLITS, XrayData, load_pneumoniamnist
from engine.data.subsets import stratified_subset
from engine.errors import ConfigError, Message
from engine.progress import Progress, silent
from engine.store import building, is_complete, list_runs, load_json, load_state, run_path, save_json, save_state
from engine.threads import set_threads
from engine.vision.metrics import binary_metrics
from engine.vision.model import STRATEGIES, XrayNet

EpochCallback = Callable[[dict], None]

DEFAULT_EPOCHS = {"linear-probe": 60, "partial": 10, "full": 10, "scratch": 20}
DEFAULT_INPUT = {"linear-probe": 96, "partial": 96, "full": 96, "scratch": 0}
DEFAULT_LR = {"linear-probe": 3e-3, "partial": 2e-3, "full": 2e-3, "scratch": 2e-3}


def _epoch_message(epoch: int, epochs: int, val_auc: float) -> Message:
    return Message(f"epoch {epoch}/{epochs}: val AUC {val_auc:.3f}", "xray_progress_epoch", epoch=epoch, epochs=epochs, auc=f"{val_auc:.3f}")


@dataclass(frozen=True)
class XrayConfig:
    """Everything a run depends on (seed included); `epochs = 0` means the strategy's default."""

    strategy: str = "linear-probe"
    seed: int = 0
    epochs: int = 0
    batch_size: int = 64
    lr: float = 0.0  # head learning rate; 0 = strategy default
    backbone_lr_ratio: float = 0.1
    weight_decay: float = 1e-4
    warmup_epochs: float = 1.0
    input_size: int = 0  # EfficientNet input after upsampling the 28 px image; 0 = strategy default
    augment: bool = True
    max_rotation_deg: float = 10.0
    max_shift: float = 0.08  # fraction of the image
    max_zoom: float = 0.10
    dropout: float = 0.2
    calibration: str = "temperature"  # "none" | "temperature" | "platt" | "balanced-platt"
    train_subset: int = 0  # >0: train on only this many training images (tests); val and test stay whole (X1)
    train_fraction: float = 1.0  # <1: a class-stratified fraction of train, fixed by the seed (label efficiency)
    epoch_samples: int = 0  # >0: an epoch draws at least this many images (repeated passes) so small subsets get enough steps
    padding: str = "same"  # EfficientNet padding: "same" (TF, matches the weights) or "symmetric" (the old one)
    data_size: int = 28
    threads: int = 2

    def resolved(self) -> "XrayConfig":
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"Unknown strategy {self.strategy!r}; choose one of {', '.join(STRATEGIES)}.")
        if not 0.0 < self.train_fraction <= 1.0:
            raise ConfigError("train_fraction must be in (0, 1].")
        if self.padding not in ("same", "symmetric"):
            raise ConfigError("padding must be same or symmetric.")
        if self.calibration not in ("none", "temperature", "platt", "balanced-platt"):
            raise ConfigError("calibration must be none, temperature, platt or balanced-platt.")
        return replace(
            self,
            epochs=self.epochs or DEFAULT_EPOCHS[self.strategy],
            lr=self.lr or DEFAULT_LR[self.strategy],
            input_size=self.input_size or DEFAULT_INPUT[self.strategy],
        )


def seed_everything(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    np.random.seed(seed)
    return torch.Generator().manual_seed(seed)


def subset_indices(labels: np.ndarray, n: int, seed: int, fraction: float = 1.0) -> np.ndarray:
    """The training images a run uses: a class-stratified subset of `n` images (n > 0) or of `fraction`."""
    return stratified_subset(labels, seed, fraction=fraction, count=n if 0 < n < len(labels) else 0)


def epoch_order(n: int, samples: int, gen: torch.Generator) -> torch.Tensor:
    """One epoch's sample order: a permutation of n, or consecutive permutations cut at `samples` if that is larger."""
    if samples <= n:
        return torch.randperm(n, generator=gen)
    reps = math.ceil(samples / n)
    return torch.cat([torch.randperm(n, generator=gen) for _ in range(reps)])[:samples]


def augmentation_grid(b: int, size: int, cfg: XrayConfig, gen: torch.Generator) -> torch.Tensor:
    """Random affine sampling grids (b, size, size, 2): rotation, shift, zoom."""
    u = torch.rand(b, 4, generator=gen) * 2 - 1  # (b, 4) in [-1, 1]
    angle = u[:, 0] * math.radians(cfg.max_rotation_deg)
    zoom = 1.0 + u[:, 1] * cfg.max_zoom
    shift = u[:, 2:] * cfg.max_shift * 2  # normalised coordinates span 2
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, shift[:, 0]], 1), torch.stack([sin, cos, shift[:, 1]], 1)], 1)
    return F.affine_grid(theta, [b, 1, size, size], align_corners=False)  # (b, S, S, 2)


def class_weights(y: torch.Tensor) -> torch.Tensor:
    """Per-sample weights so that each class contributes half of the loss."""
    n, n_pos = len(y), float(y.sum())
    w_pos, w_neg = n / (2 * max(n_pos, 1.0)), n / (2 * max(n - n_pos, 1.0))
    return torch.where(y > 0.5, torch.tensor(w_pos), torch.tensor(w_neg))


def cosine_lr(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))


@torch.no_grad()
def predict_logits(model: XrayNet, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """Raw model logits (b,) in eval mode."""
    model.eval()
    out = [model(torch.from_numpy(images[i : i + batch])) for i in range(0, len(images), batch)]
    return torch.cat(out).numpy() if out else np.zeros(0, np.float32)


@torch.no_grad()
def embed_images(model: XrayNet, images: np.ndarray, batch: int = 256) -> np.ndarray:
    """Embeddings (n, c) in eval mode."""
    model.eval()
    out = [model.embed(torch.from_numpy(images[i : i + batch])) for i in range(0, len(images), batch)]
    return torch.cat(out).numpy().astype(np.float32)


def fit_calibration(logits: np.ndarray, y: np.ndarray, mode: str) -> tuple[float, float]:
    """Calibrated logit a * z + b, fitted on val.

    'temperature': a only, both classes weighted equally, so the decision at 0.5 stays where the
    class-balanced loss put it (a balanced prior) and only the confidence is tuned. 'platt': a and b with
    val's own class mix. 'balanced-platt': a and b with both classes weighted equally.
    """
    if mode == "none" or len(np.unique(y)) < 2:
        return 1.0, 0.0
    z, t = torch.from_numpy(logits).double(), torch.from_numpy(y).double()
    w = torch.ones_like(t) if mode == "platt" else class_weights(t).double()
    ab = torch.tensor([1.0, 0.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([ab], lr=0.5, max_iter=100)
    bias_on = 0.0 if mode == "temperature" else 1.0

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.binary_cross_entropy_with_logits(ab[0] * z + bias_on * ab[1], t, weight=w)
        loss.backward()
        return loss

    opt.step(closure)
    a, b = float(ab[0].detach()), bias_on * float(ab[1].detach())
    return (a, b) if a > 0 and math.isfinite(a) and math.isfinite(b) else (1.0, 0.0)


@dataclass
class TrainResult:
    model: XrayNet
    config: XrayConfig
    metrics: dict[str, float]
    history: list[dict]
    evaluation: dict  # ROC points, confusion matrix, OOD threshold ...
    test_probabilities: np.ndarray
    test_index: np.ndarray
    embeddings: dict[str, np.ndarray]
    val_probabilities: np.ndarray | None = None  # calibrated, for the threshold view (chosen on val, not test)
    val_index: np.ndarray | None = None
    val_labels: np.ndarray | None = None


def _train_head_on_embeddings(model: XrayNet, emb: dict[str, np.ndarray], y: dict[str, np.ndarray], cfg: XrayConfig,
                              gen: torch.Generator, progress: Progress, on_epoch: EpochCallback | None) -> list[dict]:
    """Linear probe: the backbone is frozen, so embeddings are computed once and the head trains on them."""
    x_tr, y_tr = torch.from_numpy(emb["train"]), torch.from_numpy(y["train"]).float()
    x_va = torch.from_numpy(emb["val"])
    w = class_weights(y_tr)
    opt = torch.optim.AdamW(model.head.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    steps_per_epoch = math.ceil(max(len(x_tr), cfg.epoch_samples) / cfg.batch_size)
    total, warm = cfg.epochs * steps_per_epoch, int(cfg.warmup_epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_lr(s, total, warm))
    history, best, best_auc = [], copy.deepcopy(model.head.state_dict()), -1.0
    for epoch in range(cfg.epochs):
        model.train()
        perm = epoch_order(len(x_tr), cfg.epoch_samples, gen)
        loss_sum = 0.0
        for i in range(0, len(perm), cfg.batch_size):
            idx = perm[i : i + cfg.batch_size]
            z = model.head(model.dropout(x_tr[idx])).squeeze(1)
            loss = F.binary_cross_entropy_with_logits(z, y_tr[idx], weight=w[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * len(idx)
        model.eval()
        with torch.no_grad():
            z_va = model.head(x_va).squeeze(1).numpy()
        rec = _epoch_record(epoch, loss_sum / len(perm), z_va, y["val"])
        history.append(rec)
        if rec["val_auc"] > best_auc:
            best_auc, best = rec["val_auc"], copy.deepcopy(model.head.state_dict())
        progress(0.3 + 0.6 * (epoch + 1) / cfg.epochs, _epoch_message(epoch + 1, cfg.epochs, rec["val_auc"]))
        if on_epoch:
            on_epoch(rec)
    model.head.load_state_dict(best)
    return history


def _epoch_record(epoch: int, train_loss: float, z_val: np.ndarray, y_val: np.ndarray) -> dict:
    m = binary_metrics(1 / (1 + np.exp(-z_val)), y_val)
    t = torch.from_numpy(y_val).float()
    val_loss = float(F.binary_cross_entropy_with_logits(torch.from_numpy(z_val).float(), t, weight=class_weights(t)))
    return {"epoch": epoch + 1, "train_loss": train_loss, "val_loss": val_loss, "val_auc": m["auc"], "val_acc": m["acc"]}


def frozen_backbone_embeddings(data: XrayData, input_size: int, padding: str = "same") -> dict[str, np.ndarray]:
    """Embeddings of every image of every split by the frozen ImageNet backbone (what a linear probe trains on)."""
    model = XrayNet("linear-probe", input_size, pretrained=True, padding=padding)
    return {s: embed_images(model, data.images[s]) for s in SPLITS}


def _train_end_to_end(model: XrayNet, x: dict[str, np.ndarray], y: dict[str, np.ndarray], cfg: XrayConfig,
                      gen: torch.Generator, progress: Progress, on_epoch: EpochCallback | None) -> list[dict]:
    """partial / full / scratch: mini-batches with augmentation; the best epoch by val AUC is kept."""
    groups = model.param_groups(cfg.lr, cfg.lr * cfg.backbone_lr_ratio, cfg.weight_decay)
    opt = torch.optim.AdamW(groups)
    x_tr, y_tr = torch.from_numpy(x["train"]), torch.from_numpy(y["train"]).float()
    w = class_weights(y_tr)
    steps_per_epoch = math.ceil(max(len(x_tr), cfg.epoch_samples) / cfg.batch_size)
    total, warm = cfg.epochs * steps_per_epoch, int(cfg.warmup_epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: cosine_lr(s, total, warm))
    size = model.input_size or x_tr.shape[-1]
    history, best, best_auc = [], copy.deepcopy(model.state_dict()), -1.0
    for epoch in range(cfg.epochs):
        model.train()
        perm = epoch_order(len(x_tr), cfg.epoch_samples, gen)
        loss_sum = 0.0
        for step, i in enumerate(range(0, len(perm), cfg.batch_size)):
            idx = perm[i : i + cfg.batch_size]
            grid = augmentation_grid(len(idx), size, cfg, gen) if cfg.augment else None
            z = model(x_tr[idx], grid)
            loss = F.binary_cross_entropy_with_logits(z, y_tr[idx], weight=w[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            loss_sum += float(loss.detach()) * len(idx)
            if step % 10 == 0:
                frac = (epoch + step / steps_per_epoch) / cfg.epochs
                progress(0.05 + 0.85 * frac, Message(f"epoch {epoch + 1}/{cfg.epochs}, batch {step + 1}/{steps_per_epoch}", "xray_progress_batch",
                                                     epoch=epoch + 1, epochs=cfg.epochs, batch=step + 1, batches=steps_per_epoch))
        rec = _epoch_record(epoch, loss_sum / len(perm), predict_logits(model, x["val"]), y["val"])
        history.append(rec)
        if rec["val_auc"] > best_auc:
            best_auc, best = rec["val_auc"], copy.deepcopy(model.state_dict())
        progress(0.05 + 0.85 * (epoch + 1) / cfg.epochs, _epoch_message(epoch + 1, cfg.epochs, rec["val_auc"]))
        if on_epoch:
            on_epoch(rec)
    model.load_state_dict(best)
    return history


def train(config: XrayConfig, data: XrayData | None = None, progress: Progress = silent,
          on_epoch: EpochCallback | None = None, data_path: str | None = None, data_root: str | None = None,
          extras: bool = True, frozen_embeddings: dict[str, np.ndarray] | None = None) -> TrainResult:
    """Train one strategy under X1 and evaluate it on test once.

    `extras=False` (benchmarks that keep only the metrics) skips the embeddings and the OOD reference that a
    run directory needs for nearest cases and the out-of-distribution check. `frozen_embeddings` (linear probe
    only): every image's embedding per split from `frozen_backbone_embeddings` with the same input size and
    padding, so that many probes (seeds, fractions) embed the data once.
    """
    cfg = config.resolved()
    set_threads(cfg.threads)
    t0 = time.perf_counter()
    progress(0.0, Message("loading PneumoniaMNIST", "xray_progress_loading"))
    data = data or load_pneumoniamnist(data_path, size=cfg.data_size, root=data_root, progress=progress)
    keep = {s: subset_indices(data.labels[s], cfg.train_subset, cfg.seed, cfg.train_fraction) if s == "train"
            else np.arange(len(data.labels[s])) for s in SPLITS}
    x = {s: np.ascontiguousarray(data.images[s][keep[s]]) for s in SPLITS}
    y = {s: data.labels[s][keep[s]] for s in SPLITS}
    gen = seed_everything(cfg.seed)
    model = XrayNet(cfg.strategy, cfg.input_size, pretrained=True, dropout=cfg.dropout, padding=cfg.padding)
    progress(0.02, Message("embedding the test set before training", "xray_progress_embed_before"))
    before = {"test": embed_images(model, x["test"])} if extras else {}
    frozen: dict[str, np.ndarray] = {}
    if cfg.strategy == "linear-probe" and frozen_embeddings is not None:
        frozen = {s: frozen_embeddings[s][keep[s]] for s in SPLITS}
        history = _train_head_on_embeddings(model, frozen, y, cfg, gen, progress, on_epoch)
    elif cfg.strategy == "linear-probe":
        progress(0.05, Message("embedding train and val with the frozen backbone", "xray_progress_embed_frozen"))
        frozen = {s: embed_images(model, x[s]) for s in ("train", "val")} | before
        history = _train_head_on_embeddings(model, frozen, y, cfg, gen, progress, on_epoch)
    else:
        history = _train_end_to_end(model, x, y, cfg, gen, progress, on_epoch)
    progress(0.92, Message("calibrating on val, evaluating on test", "xray_progress_calibrate"))
    cached = cfg.strategy == "linear-probe" and frozen_embeddings is not None

    def logits(split: str) -> np.ndarray:
        if cached:  # the head on the cached embeddings (the backbone is frozen and in eval mode)
            model.eval()
            with torch.no_grad():
                return model.logits_from_map(torch.from_numpy(frozen[split])[:, :, None, None]).numpy()
        return predict_logits(model, x[split])

    a, b = fit_calibration(logits("val"), y["val"], cfg.calibration)
    model.logit_scale.fill_(a)
    model.logit_bias.fill_(b)
    p = {s: 1 / (1 + np.exp(-logits(s))) for s in ("val", "test")}
    m_val, m_test = binary_metrics(p["val"], y["val"]), binary_metrics(p["test"], y["test"])
    if not extras:
        seconds = time.perf_counter() - t0
        best = max(history, key=lambda r: r["val_auc"]) if history else {"epoch": 0}
        metrics = {f"test/{k}": float(v) for k, v in m_test.items() if np.isscalar(v)}
        metrics |= {f"val/{k}": float(v) for k, v in m_val.items() if np.isscalar(v)}
        metrics |= {"train_seconds": seconds, "best_epoch": float(best["epoch"]), "train_images": float(len(y["train"]))}
        evaluation = {"test_labels": y["test"].tolist(), "val_labels": y["val"].tolist(), "source": data.source}
        return TrainResult(model, cfg, metrics, history, evaluation, p["test"], keep["test"], {}, p["val"], keep["val"], y["val"])
    progress(0.96, Message("embedding the training set for nearest cases and OOD", "xray_progress_embed_train"))
    embeddings = frozen or {s: embed_images(model, x[s]) for s in SPLITS}  # a frozen backbone embeds as before
    embeddings["test_before"] = before["test"]
    from engine.vision.explain import OOD_INPUT, fit_ood_threshold, ood_reference

    progress(0.98, Message("ImageNet embeddings of train and val for the out-of-distribution check", "xray_progress_ood"))
    if cfg.strategy == "linear-probe" and cfg.input_size == OOD_INPUT:
        ood_emb = {s: embeddings[s] for s in ("train", "val")}  # the frozen backbone is the reference
    else:
        reference = ood_reference(cfg.padding)
        ood_emb = {s: embed_images(reference, x[s]) for s in ("train", "val")}
    embeddings["ood_train"] = ood_emb["train"]
    ood = fit_ood_threshold(ood_emb["train"], ood_emb["val"])
    seconds = time.perf_counter() - t0
    best = max(history, key=lambda r: r["val_auc"]) if history else {"epoch": 0}
    metrics: dict[str, float] = {f"test/{k}": float(v) for k, v in m_test.items() if np.isscalar(v)}
    metrics |= {f"val/{k}": float(v) for k, v in m_val.items() if np.isscalar(v)}
    metrics |= {"train_seconds": seconds, "best_epoch": float(best["epoch"]), "calibration/scale": a,
                "calibration/bias": b, "ood/threshold": ood["threshold"], "ood/k": float(ood["k"])}
    evaluation = {"test": {"roc": m_test["roc"], "confusion": m_test["confusion"]},
                  "val": {"roc": m_val["roc"], "confusion": m_val["confusion"]}, "ood": ood,
                  "test_labels": y["test"].tolist(), "source": data.source, "data_warnings": list(data.warnings)}
    progress(1.0, Message(f"done: test AUC {m_test['auc']:.3f}, ACC {m_test['acc']:.3f} in {seconds:.0f} s", "xray_progress_done",
                          auc=f"{m_test['auc']:.3f}", acc=f"{m_test['acc']:.3f}", seconds=f"{seconds:.0f}"))
    return TrainResult(model, cfg, metrics, history, evaluation, p["test"], keep["test"], embeddings,
                       p["val"], keep["val"], y["val"])


# --- run directories -----------------------------------------------------------------------------------------------

def save_run(result: TrainResult, out: Path) -> Path:
    """config.json, model.pt, history.json, evaluation.json, embeddings.npz, test_predictions.csv,
    val_predictions.csv (index, probability, label), metrics.json (last)."""
    out = Path(out)
    with building(out, replace=True) as tmp:  # a temporary folder, renamed to `out` once complete
        save_json(tmp / "config.json", asdict(result.config))
        save_state(tmp / "model.pt", result.model.state_dict())
        save_json(tmp / "history.json", result.history)
        save_json(tmp / "evaluation.json", result.evaluation)
        np.savez(tmp / "embeddings.npz", **{k: v.astype(np.float16 if k in ("train", "ood_train") else np.float32) for k, v in result.embeddings.items()})
        write_predictions(tmp / "test_predictions.csv", result.test_index, result.test_probabilities)
        if result.val_probabilities is not None:
            write_predictions(tmp / "val_predictions.csv", result.val_index, result.val_probabilities, result.val_labels)
        save_json(tmp / "metrics.json", result.metrics)
    return out


def write_predictions(path: Path, index, probabilities, labels=None) -> None:
    """A predictions CSV: index, probability (6 decimals) and, when `labels` is given, label; one row per image."""
    with open(path, "w", newline="") as f:
        wr = csv.writer(f)
        wr.writerow(["index", "probability"] + (["label"] if labels is not None else []))
        for k, (i, p) in enumerate(zip(index, probabilities)):
            wr.writerow([int(i), f"{float(p):.6f}"] + ([int(labels[k])] if labels is not None else []))


def load_predictions(run: Path, split: str) -> tuple[np.ndarray, np.ndarray] | None:
    """(probability (n,), label (n,)) of a run's val or test split, or None for a run saved before the file existed."""
    run = Path(run)
    path = run / f"{split}_predictions.csv"
    if split not in ("val", "test") or not path.exists():
        return None
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    prob = np.array([float(r["probability"]) for r in rows])
    if split == "val":
        return prob, np.array([int(r["label"]) for r in rows])
    return prob, np.asarray(load_json(run / "evaluation.json")["test_labels"], dtype=int)


def load_config(run: Path) -> XrayConfig:
    d = load_json(Path(run) / "config.json")
    d.setdefault("padding", "symmetric")  # runs written before TF-SAME padding were trained with the symmetric one
    fields = XrayConfig.__dataclass_fields__
    return XrayConfig(**{k: v for k, v in d.items() if k in fields})


def load_model(run: Path) -> XrayNet:
    """The trained model of a run (state_dict through `torch.load(weights_only=True)`)."""
    cfg = load_config(run)
    model = XrayNet(cfg.strategy, cfg.input_size, pretrained=False, dropout=cfg.dropout, padding=cfg.padding)
    model.load_state_dict(load_state(Path(run) / "model.pt"), strict=True)
    return model.eval()


def train_and_save(config: XrayConfig, root: str | None = None, progress: Progress = silent,
                   on_epoch: EpochCallback | None = None, data: XrayData | None = None) -> Path:
    """Train `config` into <runs>/xray/<strategy>-<hash> (the app's and the bench's runs), or reuse it if done."""
    cfg = config.resolved()
    out = run_path("xray", cfg.strategy, cfg, root)
    if is_complete(out):
        progress(1.0, Message("already trained: reusing the stored run", "xray_progress_reusing"))
        return out
    return save_run(train(cfg, data=data, progress=progress, on_epoch=on_epoch), out)


def list_xray_runs(root: str | None = None) -> list[dict]:
    """Complete X-ray runs, newest first: {"path", "config", "metrics"}."""
    runs = []
    for p in list_runs("xray", root):
        try:
            runs.append({"path": p, "config": load_config(p), "metrics": load_json(p / "metrics.json")})
        except (OSError, ValueError, TypeError):
            continue  # a half-written or foreign folder is not a run
    return runs
