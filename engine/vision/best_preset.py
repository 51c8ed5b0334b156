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

from engine.data.medmnist import XrayData, load_pneumoniamnist
from engine.progress import Progress, silent
from engine.store import building, save_json, save_state
from engine.vision.ensemble import BEST_MEMBERS, BEST_TTA, ensemble_logits, member_seeds, tta_logits
from engine.vision.metrics import binary_metrics
from engine.vision.train import TrainResult, XrayConfig, fit_calibration, train, write_predictions


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
    config = {"preset": "best", "seed": seed, "members": members, "member_seeds": member_seeds(seed, members),
              "tta": tta, "member_config": asdict(base)}
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
