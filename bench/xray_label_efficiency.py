"""Label-efficiency curve: test AUC / ACC of the four X-ray strategies trained on 1%, 5%, 10%, 25% and 100% of
PneumoniaMNIST's training set (class-stratified subsets fixed per seed, `engine.data.subsets`), val and test whole
(protocol X1). Writes bench/xray/label_efficiency.json (every run) and .md (mean and 95% t-interval over seeds).

    OMP_NUM_THREADS=1 EMBEDLAB_DATA_DIR=/work/shared/data python bench/xray_label_efficiency.py \
        --fractions 0.01 0.05 0.1 0.25 --seeds 0 1 2 --threads 1

Resumable: cells already in the JSON are skipped. Small subsets get comparable optimisation: an epoch draws at
least `--epoch-samples` images (repeated passes), so 1% of the data still sees as many steps per epoch as
`--epoch-samples / batch`; epochs and the rest are each strategy's defaults, the epoch is chosen by val AUC.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
from scipy import stats

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.medmnist import load_pneumoniamnist  # noqa: E402
from engine.machine import machine_line  # noqa: E402
from engine.store import save_json, save_state  # noqa: E402
from engine.vision.benchmark import PUBLISHED, STRATEGY_LABELS  # noqa: E402
from engine.vision.train import XrayConfig, frozen_backbone_embeddings, train  # noqa: E402

OUT = Path(__file__).resolve().parent / "xray" / "label_efficiency"
STRATEGIES = ("scratch", "linear-probe", "partial", "full")
FRACTIONS = (0.01, 0.05, 0.1, 0.25, 1.0)


def interval(values: list[float], level: float = 0.95) -> tuple[float, float, float]:
    """Mean and the t-interval over seeds, cut to [0, 1] (NaN bounds with one seed)."""
    v = np.asarray(values, dtype=float)
    m = float(v.mean())
    if len(v) < 2:
        return m, float("nan"), float("nan")
    half = float(stats.t.ppf(0.5 + level / 2, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return m, max(0.0, m - half), min(1.0, m + half)  # AUC and ACC live in [0, 1]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--fractions", type=float, nargs="+", default=list(FRACTIONS))
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGIES), choices=STRATEGIES)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epoch-samples", type=int, default=512, help="minimum images per epoch for small subsets")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--rewrite", action="store_true", help="only rewrite the .md from the .json")
    ap.add_argument("--out", default=str(OUT), help="output stem (.json/.md); a second concurrent stream writes its own")
    ap.add_argument("--merge", nargs="*", default=[], help="with --rewrite: also take the runs of these JSON files")
    ap.add_argument("--keep", default=None, help="folder to keep each run's model.pt and val/test probabilities in")
    a = ap.parse_args()
    out = Path(a.out)
    rows = json.loads(out.with_suffix(".json").read_text())["runs"] if out.with_suffix(".json").exists() else []
    command = "python bench/xray_label_efficiency.py " + " ".join(shlex.quote(x) for x in sys.argv[1:])
    if a.rewrite:
        for extra in a.merge:
            rows += [r for r in json.loads(Path(extra).read_text())["runs"]
                     if not any((q["fraction"], q["strategy"], q["seed"]) == (r["fraction"], r["strategy"], r["seed"]) for q in rows)]
        write(rows, out)
        return
    data = load_pneumoniamnist(root=a.data_dir, allow_download=False)
    frozen: dict | None = None  # the linear probe's embeddings, computed once for every fraction and seed
    for fraction in a.fractions:
        for strategy in a.strategies:
            for seed in a.seeds:
                if any(r["fraction"] == fraction and r["strategy"] == strategy and r["seed"] == seed for r in rows):
                    continue
                cfg = XrayConfig(strategy=strategy, seed=seed, train_fraction=fraction, threads=a.threads,
                                 epoch_samples=a.epoch_samples if fraction < 1.0 else 0)
                if strategy == "linear-probe" and frozen is None:
                    frozen = frozen_backbone_embeddings(data, cfg.resolved().input_size, cfg.padding)
                res = train(cfg, data=data, extras=False, frozen_embeddings=frozen if strategy == "linear-probe" else None)
                m = res.metrics
                if a.keep:
                    keep = Path(a.keep) / f"{strategy}-f{fraction:g}-s{seed}"
                    keep.mkdir(parents=True, exist_ok=True)
                    save_state(keep / "model.pt", res.model.state_dict())
                    save_json(keep / "config.json", asdict(cfg))
                    np.savez(keep / "probabilities.npz", val=res.val_probabilities, test=res.test_probabilities)
                rows.append({"fraction": fraction, "strategy": strategy, "seed": seed,
                             "train_images": int(m["train_images"]), "epoch_samples": cfg.epoch_samples,
                             "test_auc": m["test/auc"], "test_acc": m["test/acc"], "val_auc": m["val/auc"],
                             "val_acc": m["val/acc"], "best_epoch": int(m["best_epoch"]),
                             "seconds": round(m["train_seconds"], 1), "load": round(os.getloadavg()[0], 2),
                             "command": command,
                             "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})
                print(json.dumps(rows[-1]), flush=True)
                write(rows, out)


def summary(rows: list[dict]) -> list[dict]:
    """One entry per (strategy, fraction) present: mean and 95% t-interval of test AUC and ACC over seeds."""
    out = []
    for strategy in STRATEGIES:
        for fraction in sorted({r["fraction"] for r in rows}):
            rs = [r for r in rows if r["strategy"] == strategy and r["fraction"] == fraction]
            if not rs:
                continue
            auc, acc, val = (interval([r[k] for r in rs]) for k in ("test_auc", "test_acc", "val_auc"))
            out.append({"strategy": strategy, "fraction": fraction, "seeds": len(rs),
                        "train_images": rs[0]["train_images"],
                        "test_auc": auc[0], "test_auc_lo": auc[1], "test_auc_hi": auc[2],
                        "test_acc": acc[0], "test_acc_lo": acc[1], "test_acc_hi": acc[2],
                        "val_auc": val[0], "seconds": float(np.mean([r["seconds"] for r in rs]))})
    return out


def reference_100() -> list[dict]:
    """The 100% runs of bench/xray/results.json, summarised like the curve and labelled with how they were made."""
    path = OUT.parent / "results.json"
    if not path.exists():
        return []
    old = json.loads(path.read_text())
    out = []
    for strategy in STRATEGIES:
        rs = [r for r in old if r["strategy"] == strategy]
        if rs:
            auc, acc = interval([r["test/auc"] for r in rs]), interval([r["test/acc"] for r in rs])
            out.append({"strategy": strategy, "fraction": 1.0, "seeds": len(rs),
                        "label": "no padding choice" if strategy == "scratch" else "old symmetric padding",
                        "test_auc": auc[0], "test_auc_lo": auc[1], "test_auc_hi": auc[2],
                        "test_acc": acc[0], "test_acc_lo": acc[1], "test_acc_hi": acc[2]})
    return out


def write(rows: list[dict], out: Path = OUT) -> None:
    s = summary(rows)
    load = os.getloadavg()
    commands = sorted({r["command"] for r in rows})
    out.parent.mkdir(parents=True, exist_ok=True)
    reference = reference_100()
    out.with_suffix(".json").write_text(json.dumps({"machine": machine_line(), "interval": "95% t-interval over seeds",
                                                    "summary": s, "reference_100": reference, "runs": rows}, indent=1))
    fmt = lambda m, lo, hi: f"{m:.3f} [{lo:.3f}, {hi:.3f}]" if np.isfinite(lo) else f"{m:.3f}"  # noqa: E731
    lines = ["# Label efficiency: when does ImageNet pretraining pay off? (PneumoniaMNIST 28 px, X1)", "",
             "Commands (resumable; `OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 EMBEDLAB_THREADS=1 EMBEDLAB_DATA_DIR=/work/shared/data`):", ""]
    lines += [f"    {c}" for c in commands]
    lines += ["", f"Machine: {machine_line()}; 1 thread per run, 2 cores shared with other users "
              f"(load average {load[0]:.2f} when this table was written; each run's load is in the JSON). "
              f"Updated {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.", "",
              "Training set: a class-stratified fraction of the 4,708 training images, fixed per seed (a smaller fraction "
              "is contained in a larger one); val (524) and test (624) whole. Each strategy keeps its defaults "
              "(engine/vision/train.py), EfficientNet with TF-SAME padding; subsets below 100% draw at least 512 images "
              "per epoch (repeated passes) so that 1% still gets 8 steps per epoch. Epoch chosen by val AUC, temperature "
              "fitted on val, threshold 0.5. Mean over seeds and 95% t-interval over seeds (t with n-1 degrees of freedom; "
              "with 3 seeds the interval is wide; cut to [0, 1]).", "",
              "## Test AUC, mean [95% interval]", ""]
    fractions = list(FRACTIONS)  # every planned column, measured or not
    head = "| strategy | " + " | ".join(f"{f:.0%}" for f in fractions) + " |"
    for key, title in (("test_auc", None), ("test_acc", "## Test ACC, mean [95% interval]")):
        if title:
            lines += ["", title, ""]
        lines += [head, "|---|" + "---|" * len(fractions)]
        for strategy in STRATEGIES:
            cells = []
            for f in fractions:
                e = next((x for x in s if x["strategy"] == strategy and x["fraction"] == f), None)
                cells.append("missing" if e is None else fmt(e[key], e[key + "_lo"], e[key + "_hi"]) +
                             ("" if e["seeds"] == 3 else f" ({e['seeds']} seed{'s' if e['seeds'] > 1 else ''})"))
            lines.append(f"| {STRATEGY_LABELS[strategy]} | " + " | ".join(cells) + " |")
    automl = next((auc, acc) for method, auc, acc in PUBLISHED if "AutoML" in method)
    lines += ["", "Reference, not part of the curve: the 100% rows of bench/xray/results.md (2026-11-28, 2 threads; the "
              "EfficientNet strategies there used the old symmetric padding, the scratch CNN has no padding choice and "
              "the same code path), mean [95% t-interval] over its seeds:", "",
              "| strategy | seeds | test AUC | test ACC |", "|---|---|---|---|"]
    lines += [f"| {STRATEGY_LABELS[e['strategy']]} ({e['label']}) | {e['seeds']} | {fmt(e['test_auc'], e['test_auc_lo'], e['test_auc_hi'])} "
              f"| {fmt(e['test_acc'], e['test_acc_lo'], e['test_acc_hi'])} |" for e in reference]
    lines += ["", f"Google AutoML Vision (MedMNIST v2, 100%): AUC {automl[0]:.3f}, ACC {automl[1]:.3f}.", "",
              "## Every run", "", "| fraction | images | strategy | seed | test AUC | test ACC | val AUC | best epoch | s | load |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in sorted(rows, key=lambda r: (r["fraction"], STRATEGIES.index(r["strategy"]), r["seed"])):
        lines.append(f"| {r['fraction']:.0%} | {r['train_images']} | {r['strategy']} | {r['seed']} | {r['test_auc']:.4f} "
                     f"| {r['test_acc']:.4f} | {r['val_auc']:.4f} | {r['best_epoch']} | {r['seconds']:.0f} | {r['load']:.1f} |")
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
