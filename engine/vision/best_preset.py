"""`python -m engine xray train --preset best`: the recipe chosen on val in bench/xray/best.md.

An ensemble of `BEST_MEMBERS` small CNNs trained from scratch (engine.vision.train, strategy "scratch", each
with its own seed, epoch and temperature chosen on val), each read with test-time augmentation (+-1 px shifts
and a left-right flip, the views val preferred); their
calibrated logits are averaged and one more temperature is fitted on val (engine.vision.ensemble). The run
directory holds what every X-ray run holds for the benchmark (config.json, metrics.json, test_predictions.csv,
evaluation.json) plus members/<k>/ with each member's model.pt, config.json and history.json.
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from engine.data.images import Source, preprocess
from engine.data.medmnist import CLASSES, XrayData, load_pneumoniamnist
from engine.progress import Progress, silent
from engine.errors import Message
from engine.store import building, list_runs, load_json, run_path, save_json, save_state
from engine.vision.ensemble import BEST_MEMBERS, BEST_TTA, ensemble_logits, member_seeds, tta_logits
from engine.vision.metrics import binary_metrics
from engine.vision.explain import failure_message
from engine.vision.model import XrayNet
from engine.vision.train import TrainResult, XrayConfig, fit_calibration, load_config, load_model, train, write_predictions

KIND = "xray-preset"  # <runs>/xray-preset/best-<hash>: the preset's runs, beside the single-strategy runs in <runs>/xray


def preset_config(seed: int, member: XrayConfig | None = None, members: int = BEST_MEMBERS, tta: str = BEST_TTA) -> dict:
    """What a preset run depends on (its config.json and the key of its run directory)."""
    base = replace(member or XrayConfig(), strategy="scratch")
    return {"preset": "best", "seed": seed, "members": members, "member_seeds": member_seeds(seed, members),
            "tta": tta, "member_config": asdict(base)}


@dataclass
class BestResult:
    config: dict
    metrics: dict[str, float]
    evaluation: dict
    test_probabilities: np.ndarray
    val_probabilities: np.ndarray
    members: list[TrainResult]


def train_best(seed: int, member: XrayConfig | None = None, members: int = BEST_MEMBERS, tta: str = BEST_TTA,
               data: XrayData | None = None, data_path: str | None = None, data_root: str | None = None,
               progress: Progress = silent) -> BestResult:
    """Train the preset for one seed; `member` sets the members' shared settings (subset, epochs, threads)."""
    t0 = time.perf_counter()
    base = replace(member or XrayConfig(), strategy="scratch")
    data = data or load_pneumoniamnist(data_path, size=base.data_size, root=data_root, progress=progress)
    results, z = [], {"val": [], "test": []}
    for k, s in enumerate(member_seeds(seed, members)):
        def sub(f: float, msg: str, k: int = k) -> None:
            progress((k + f) / members * 0.95, f"member {k + 1}/{members}: {msg}")
        r = train(replace(base, seed=s), data=data, progress=sub, extras=False)
        results.append(r)
        for split in z:
            z[split].append(tta_logits(r.model, data.images[split], tta))
    z_val, z_test = ensemble_logits(z["val"]), ensemble_logits(z["test"])
    y_val, y_test = data.labels["val"], data.labels["test"]
    a, b = fit_calibration(z_val, y_val, base.calibration)
    p_val, p_test = 1 / (1 + np.exp(-(a * z_val + b))), 1 / (1 + np.exp(-(a * z_test + b)))
    m_val, m_test = binary_metrics(p_val, y_val), binary_metrics(p_test, y_test)
    metrics = {f"test/{k}": float(v) for k, v in m_test.items() if np.isscalar(v)}
    metrics |= {f"val/{k}": float(v) for k, v in m_val.items() if np.isscalar(v)}
    metrics |= {"train_seconds": time.perf_counter() - t0, "calibration/scale": a, "calibration/bias": b,
                "members": float(members)}
    config = preset_config(seed, base, members, tta)
    evaluation = {"test": {"roc": m_test["roc"], "confusion": m_test["confusion"]},
                  "val": {"roc": m_val["roc"], "confusion": m_val["confusion"]},
                  "test_labels": y_test.tolist(), "source": data.source, "data_warnings": list(data.warnings)}
    progress(1.0, f"done: test AUC {m_test['auc']:.3f}, ACC {m_test['acc']:.3f}")
    return BestResult(config, metrics, evaluation, p_test, p_val, results)


def save_best(result: BestResult, out: Path) -> Path:
    """The preset's run directory (metrics.json written last, as for every run)."""
    out = Path(out)
    with building(out, replace=True) as tmp:
        save_json(tmp / "config.json", result.config)
        for k, r in enumerate(result.members):
            save_state(tmp / "members" / str(k) / "model.pt", r.model.state_dict())
            save_json(tmp / "members" / str(k) / "config.json", asdict(r.config))
            save_json(tmp / "members" / str(k) / "history.json", r.history)
        save_json(tmp / "evaluation.json", result.evaluation)
        write_predictions(tmp / "test_predictions.csv", range(len(result.test_probabilities)), result.test_probabilities)
        save_json(tmp / "metrics.json", result.metrics)
    return out


def preset_path(seed: int, member: XrayConfig | None = None, root: str | None = None) -> Path:
    """Where the preset of `seed` (members' shared settings `member`) lives in the run store."""
    return run_path(KIND, "best", preset_config(seed, member), root)


def is_complete(run: Path) -> bool:
    """A preset run is usable: config.json and metrics.json readable and every member's model.pt there (it has no
    top-level model.pt, so the store's single-model check does not apply)."""
    try:
        n = int(load_json(run / "config.json")["members"])
        load_json(run / "metrics.json")
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return all((run / "members" / str(k) / "model.pt").is_file() for k in range(n))


def train_and_save_best(seed: int, member: XrayConfig | None = None, root: str | None = None,
                        progress: Progress = silent, data: XrayData | None = None) -> Path:
    """Train the preset into the run store (the app's and the CLI's), or reuse it when it is complete."""
    out = preset_path(seed, member, root)
    if is_complete(out):
        progress(1.0, Message("already trained: reusing the stored run", "xray_progress_reusing"))
        return out
    return save_best(train_best(seed, member=member, data=data, progress=progress), out)


def list_presets(root: str | None = None) -> list[dict]:
    """Complete preset runs, newest first: {"path", "config" (dict), "metrics"}."""
    return [{"path": p, "config": load_json(p / "config.json"), "metrics": load_json(p / "metrics.json")}
            for p in list_runs(KIND, root, complete=is_complete)]


@dataclass
class PresetView:
    """The preset's answer for one image: calibrated ensemble probability and the label at 0.5."""

    probability: float
    label: str
    members: list[float]  # each member's own probability (its calibration, with TTA), to show the spread
    image: np.ndarray  # (s, s) uint8: what the members saw


def load_members(run: str | Path) -> list[tuple[XrayNet, XrayConfig]]:
    """The members' models (eval mode) and configs of a stored preset run."""
    run = Path(run)
    n = int(load_json(run / "config.json")["members"])
    return [(load_model(run / "members" / str(k)), load_config(run / "members" / str(k))) for k in range(n)]


def preset_view(run: str | Path, source: Source, members: list[tuple[XrayNet, XrayConfig]] | None = None) -> PresetView | str:
    """The preset on one image (the same preprocessing as every run); a failure comes back as a sentence (coded)."""
    run = Path(run)
    config, metrics = load_json(run / "config.json"), load_json(run / "metrics.json")
    members = members or load_members(run)
    try:
        image = preprocess(source, members[0][1].data_size, keep_steps=False).image
        z = [tta_logits(model, image[None], config["tta"]) for model, _ in members]
    except Exception as e:  # the same answers as XrayExplainer.analyse_safely
        return failure_message(e)
    a, b = metrics["calibration/scale"], metrics["calibration/bias"]
    p = float(1 / (1 + np.exp(-(a * ensemble_logits(z)[0] + b))))
    return PresetView(p, CLASSES[int(p >= 0.5)], [float(1 / (1 + np.exp(-zk[0]))) for zk in z], image)
