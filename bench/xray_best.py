"""What TTA and an ensemble of scratch CNNs each buy, measured on val (choices) and reported on test, from the
100% scratch models that bench/xray_label_efficiency.py kept (--keep runs/le). Writes bench/xray/best.md/.json.

    OMP_NUM_THREADS=1 EMBEDLAB_DATA_DIR=/work/shared/data python bench/xray_best.py --keep runs/le --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.medmnist import load_pneumoniamnist  # noqa: E402
from engine.machine import machine_line  # noqa: E402
from engine.store import load_json, load_state  # noqa: E402
from engine.threads import set_threads  # noqa: E402
from engine.vision.benchmark import PUBLISHED  # noqa: E402
from engine.vision.ensemble import TTA_VIEWS, ensemble_logits, tta_logits  # noqa: E402
from engine.vision.metrics import binary_metrics  # noqa: E402
from engine.vision.model import XrayNet  # noqa: E402
from engine.vision.train import XrayConfig, fit_calibration  # noqa: E402

OUT = Path(__file__).resolve().parent / "xray" / "best"


def load_member(folder: Path) -> XrayNet:
    cfg = XrayConfig(**load_json(folder / "config.json"))
    model = XrayNet(cfg.strategy, cfg.input_size, pretrained=False, dropout=cfg.dropout, padding=cfg.padding)
    model.load_state_dict(load_state(folder / "model.pt"), strict=True)
    return model.eval()


def log_loss(p: np.ndarray, y: np.ndarray) -> float:
    p = np.clip(p, 1e-7, 1 - 1e-7)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--keep", default="runs/le")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--data-dir", default=None)
    a = ap.parse_args()
    set_threads(1)
    command = "python bench/xray_best.py " + " ".join(shlex.quote(x) for x in sys.argv[1:])
    data = load_pneumoniamnist(root=a.data_dir, allow_download=False)
    y = {s: data.labels[s] for s in ("val", "test")}
    z = {}  # (seed, tta) -> {"val": logits, "test": logits}
    for seed in a.seeds:
        model = load_member(Path(a.keep) / f"scratch-f1-s{seed}")
        with torch.no_grad():
            for tta in TTA_VIEWS:
                z[(seed, tta)] = {s: tta_logits(model, data.images[s], tta) for s in ("val", "test")}
    rows = []
    for tta in TTA_VIEWS:
        for k in range(1, len(a.seeds) + 1):
            for members in itertools.combinations(a.seeds, k):
                zs = {s: ensemble_logits([z[(m, tta)][s] for m in members]) for s in ("val", "test")}
                scale, bias = fit_calibration(zs["val"], y["val"], "temperature")
                p = {s: 1 / (1 + np.exp(-(scale * zs[s] + bias))) for s in zs}
                mv, mt = binary_metrics(p["val"], y["val"]), binary_metrics(p["test"], y["test"])
                rows.append({"tta": tta, "members": list(members), "k": k, "val_auc": mv["auc"], "val_acc": mv["acc"],
                             "val_logloss": log_loss(p["val"], y["val"]), "test_auc": mt["auc"], "test_acc": mt["acc"],
                             "test_sens": mt["sensitivity"], "test_spec": mt["specificity"]})
    write(rows, command)


def write(rows: list[dict], command: str) -> None:
    load = os.getloadavg()
    OUT.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    automl = next((auc, acc) for method, auc, acc in PUBLISHED if "AutoML" in method)
    lines = ["# X-ray: what test-time augmentation and a scratch-CNN ensemble buy (PneumoniaMNIST 28 px, X1)", "",
             f"Command: `OMP_NUM_THREADS=1 EMBEDLAB_DATA_DIR=/work/shared/data {command}` (after "
             "`bench/xray_label_efficiency.py ... --keep runs/le` trained the 100% scratch models).", "",
             f"Machine: {machine_line()}; 1 thread; load average {load[0]:.2f} when written. "
             f"Finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             "Each member: the small CNN from scratch on 100% of train (its epoch and temperature chosen on val). TTA views "
             "(engine/vision/ensemble.py): none; shift = identity and +-1 px vertical and horizontal shifts (5 views); "
             "shift+flip adds a left-right flip. Ensemble = mean calibrated logit, one more temperature on val, threshold 0.5. "
             "Rows with one member: mean over the single models. Choices are read from the val columns; test is reported.", "",
             "| TTA | members | val AUC | val ACC | val log-loss | test AUC | test ACC | test sens | test spec |",
             "|---|---|---|---|---|---|---|---|---|"]
    for tta in TTA_VIEWS:
        for k in sorted({r["k"] for r in rows}):
            rs = [r for r in rows if r["tta"] == tta and r["k"] == k]
            mean = {key: np.mean([r[key] for r in rs]) for key in ("val_auc", "val_acc", "val_logloss", "test_auc",
                                                                    "test_acc", "test_sens", "test_spec")}
            who = "1 (mean of " + str(len(rs)) + " single models)" if k == 1 else \
                (f"{k} (mean of {len(rs)} subsets)" if len(rs) > 1 else f"{k} (seeds {rs[0]['members']})")
            lines.append(f"| {tta} | {who} | {mean['val_auc']:.4f} | {mean['val_acc']:.4f} | {mean['val_logloss']:.4f} "
                         f"| {mean['test_auc']:.4f} | {mean['test_acc']:.4f} | {mean['test_sens']:.4f} | {mean['test_spec']:.4f} |")
    full = [r for r in rows if r["k"] == max(x["k"] for x in rows)]
    pick = max(full, key=lambda r: (round(r["val_auc"], 4), -r["val_logloss"]))
    single = [r for r in rows if r["k"] == 1 and r["tta"] == "none"]
    lines += ["", f"Choice on val (highest val AUC, then lowest val log-loss, among the {pick['k']}-member ensembles; this rule "
              "was written after the table had been printed with its test columns): "
              f"TTA `{pick['tta']}` (val AUC {pick['val_auc']:.4f}, log-loss {pick['val_logloss']:.4f}; a single model "
              f"without TTA: {np.mean([r['val_auc'] for r in single]):.4f}, {np.mean([r['val_logloss'] for r in single]):.4f}). "
              f"That is `--preset best` (engine/vision/ensemble.py, BEST_TTA). Its test numbers for preset seed 0 "
              f"(members 0, 1, 2): AUC {pick['test_auc']:.4f}, ACC {pick['test_acc']:.4f}. Preset seeds 1 and 2 (members 3-8) "
              "were not trained, so there is no 3-seed mean for the preset. The val differences between the TTA variants "
              "are in the fourth decimal (val is nearly saturated), and on test the ensemble without TTA had the higher ACC "
              "(seen after the choice; the choice stays with val).",
              "", f"Target (Google AutoML Vision, MedMNIST v2): test AUC {automl[0]:.3f}, ACC {automl[1]:.3f}: not reached.",
              "", "These members ran at 1 thread; the CLI's default is 2 threads, and the thread count changes a run's numbers "
              "slightly (scratch seed 0 at 100%: test AUC 0.9850 here, 0.9824 in results.md at 2 threads)."]
    OUT.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
