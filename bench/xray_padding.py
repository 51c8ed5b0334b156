"""Linear-probe AUC with EfficientNet-Lite0 padded symmetrically (k // 2, the old code) vs like TF "SAME" (the
weights' source network), same seeds, writing bench/xray/padding.md and .json.

    OMP_NUM_THREADS=1 EMBEDLAB_DATA_DIR=/work/shared/data python bench/xray_padding.py --seeds 0 1 2 --threads 1
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.metrics import roc_auc_score

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.medmnist import load_pneumoniamnist  # noqa: E402
from engine.machine import machine_line  # noqa: E402
from engine.vision.train import XrayConfig, frozen_backbone_embeddings, train  # noqa: E402

OUT = Path(__file__).resolve().parent / "xray" / "padding"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir", default=None)
    a = ap.parse_args()
    command = "python bench/xray_padding.py " + " ".join(shlex.quote(x) for x in sys.argv[1:])
    data = load_pneumoniamnist(root=a.data_dir, allow_download=False)
    rows, probs = [], {}
    for padding in ("symmetric", "same"):
        cfg0 = XrayConfig(strategy="linear-probe", padding=padding, threads=a.threads).resolved()
        emb = frozen_backbone_embeddings(data, cfg0.input_size, padding)  # once per padding, shared by the seeds
        for seed in a.seeds:
            cfg = XrayConfig(strategy="linear-probe", seed=seed, padding=padding, threads=a.threads)
            r = train(cfg, data=data, extras=False, frozen_embeddings=emb)
            m = r.metrics
            probs[(padding, seed)] = {"val": r.val_probabilities, "test": r.test_probabilities}
            rows.append({"padding": padding, "seed": seed, "val_auc": m["val/auc"], "val_acc": m["val/acc"],
                         "test_auc": m["test/auc"], "test_acc": m["test/acc"], "best_epoch": m["best_epoch"],
                         "seconds": m["train_seconds"]})
            print(json.dumps(rows[-1]), flush=True)
    diff = {split: paired_bootstrap(probs, data.labels[split], split, a.seeds) for split in ("val", "test")}
    write(rows, command, diff)


def paired_bootstrap(probs: dict, y: np.ndarray, split: str, seeds: list[int], draws: int = 2000) -> dict:
    """AUC(same) - AUC(symmetric), averaged over seeds, with a 95% percentile interval from resampling the
    split's images (the same resample for both paddings: a paired bootstrap)."""
    def delta(idx: np.ndarray) -> float:
        return float(np.mean([roc_auc_score(y[idx], probs[("same", s)][split][idx]) -
                              roc_auc_score(y[idx], probs[("symmetric", s)][split][idx]) for s in seeds]))
    rng = np.random.default_rng(0)
    boot = []
    while len(boot) < draws:
        idx = rng.integers(0, len(y), len(y))
        if len(np.unique(y[idx])) == 2:
            boot.append(delta(idx))
    lo, hi = np.percentile(boot, [2.5, 97.5])
    return {"delta": delta(np.arange(len(y))), "lo": float(lo), "hi": float(hi), "draws": draws}


def write(rows: list[dict], command: str, diff: dict) -> None:
    load = os.getloadavg()
    lines = ["# EfficientNet-Lite0 padding: symmetric vs TF SAME (linear probe, PneumoniaMNIST 28 px -> 96 px, X1)", "",
             f"Command: `OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 EMBEDLAB_THREADS=1 EMBEDLAB_DATA_DIR=/work/shared/data {command}`", "",
             f"Machine: {machine_line()}; 1 thread, shared; load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} at the end. "
             f"Finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
             "Linear probe (frozen ImageNet backbone, 60 epochs, epoch chosen by val AUC, temperature on val), "
             "threshold 0.5. The padding is chosen on val AUC; test is reported, not used.", "",
             "| padding | seeds | val AUC | val ACC | test AUC | test ACC |", "|---|---|---|---|---|---|"]
    for padding in ("symmetric", "same"):
        rs = [r for r in rows if r["padding"] == padding]
        if not rs:
            continue
        def ms(k: str) -> str:
            v = np.array([r[k] for r in rs])
            return f"{v.mean():.4f} ± {v.std(ddof=1):.4f}" if len(v) > 1 else f"{v.mean():.4f}"
        lines.append(f"| {padding} | {len(rs)} | {ms('val_auc')} | {ms('val_acc')} | {ms('test_auc')} | {ms('test_acc')} |")
    lines += ["", "Mean ± sd over seeds (the seed moves only the probe's initialisation and batch order: the embeddings "
              "are the same, so the spread over seeds says nothing about the val or test sample).", "",
              "Paired bootstrap over images (2,000 resamples of the split, the same resample for both paddings), "
              "AUC(same) - AUC(symmetric) averaged over the seeds, 95% percentile interval:", ""]
    lines += [f"- {split}: {d['delta']:+.4f} [{d['lo']:+.4f}, {d['hi']:+.4f}]" for split, d in diff.items()]
    v = diff["val"]
    verdict = ("val prefers SAME" if v["lo"] > 0 else "val prefers symmetric" if v["hi"] < 0 else
               "val does not tell the two apart (the interval holds 0)")
    lines += ["", f"Decision (rule fixed before measuring: keep the weights' own padding, TF SAME, unless val shows it "
              f"worse beyond resampling noise): {verdict}, so the default is `padding=\"same\"`"
              + ("." if v["hi"] >= 0 else " only if overridden; here val says otherwise.") +
              " The mean val AUC is lower with SAME on every seed, but the seeds share the embeddings; test is reported, "
              "not used."]
    lines += ["", "Every run:", "", "| padding | seed | val AUC | test AUC | test ACC | best epoch |",
              "|---|---|---|---|---|---|"]
    lines += [f"| {r['padding']} | {r['seed']} | {r['val_auc']:.4f} | {r['test_auc']:.4f} | {r['test_acc']:.4f} | {int(r['best_epoch'])} |"
              for r in rows]
    OUT.with_suffix(".md").write_text("\n".join(lines) + "\n")
    OUT.with_suffix(".json").write_text(json.dumps({"runs": rows, "auc_same_minus_symmetric": diff}, indent=2))


if __name__ == "__main__":
    main()
