"""Benchmark the X-ray strategies under protocol X1 and write bench/xray/results.md.

    python bench/xray_bench.py --runs linear-probe:0,1,2 full:0,1,2 partial:0 scratch:0

Each training holds /tmp/embedlab-cpu.lock (taken here, per run). Runs land in <runs>/xray/<strategy>-<hash>
(the app shows and reuses them; finished runs are not retrained).
"""
from __future__ import annotations

import argparse
import fcntl
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.medmnist import load_pneumoniamnist  # noqa: E402
from engine.progress import terminal  # noqa: E402
from engine.store import load_json  # noqa: E402
from engine.vision.benchmark import CITATION, PUBLISHED, STRATEGY_LABELS  # noqa: E402
from engine.vision.train import XrayConfig, train_and_save  # noqa: E402

KEYS = ("test/auc", "test/acc", "test/sensitivity", "test/specificity", "val/auc", "val/acc", "best_epoch", "train_seconds")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", nargs="+", default=["linear-probe:0,1,2", "full:0,1,2", "partial:0", "scratch:0"],
                    help="strategy:seed,seed,... in the order to train them")
    ap.add_argument("--lock", default="/tmp/embedlab-cpu.lock", help="held during each training (shared 2-core machine)")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--runs-dir", default=None)
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "xray" / "results.md"))
    a = ap.parse_args()
    command = "python bench/xray_bench.py " + " ".join(shlex.quote(x) for x in sys.argv[1:])
    data = load_pneumoniamnist(root=a.data_dir, allow_download=True)
    plan = [(spec.split(":")[0], int(seed)) for spec in a.runs for seed in spec.split(":")[1].split(",")]
    strategies = list(dict.fromkeys(s for s, _ in plan))
    rows = []
    for strategy, seed in plan:
        cfg = XrayConfig(strategy=strategy, seed=seed)
        print(f"== {strategy} seed {seed}", file=sys.stderr, flush=True)
        with open(a.lock, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one heavy job at a time on the shared machine
            run = train_and_save(cfg, root=a.runs_dir, progress=terminal, data=data)
        m = load_json(run / "metrics.json")
        rows.append({"strategy": strategy, "seed": seed, "run": run.name, **{k: m[k] for k in KEYS}})
        write(a.out, command, rows, strategies)


def write(out: str, command: str, rows: list[dict], strategies: list[str]) -> None:
    cfgs = {s: XrayConfig(strategy=s).resolved() for s in strategies}
    lines = [
        "# Chest X-ray benchmark (PneumoniaMNIST 28 px, protocol X1)",
        "",
        f"Command: `EMBEDLAB_DATA_DIR=/work/shared/data {command}` (each training holds /tmp/embedlab-cpu.lock)",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores shared, torch {torch.__version__}, "
        f"{cfgs[strategies[0]].threads} threads. Finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        "Test metrics at threshold 0.5 (ACC as in MedMNIST v2); epoch chosen by val AUC; temperature fitted on val.",
        "train_seconds includes data loading, per-epoch val evaluation, calibration, test evaluation and embeddings.",
        "",
        "## Mean ± sd over seeds",
        "",
        "| method | seeds | test AUC | test ACC | sensitivity | specificity | train s / seed |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in strategies:
        rs = [r for r in rows if r["strategy"] == s]
        if not rs:
            continue
        def ms(k: str, fmt: str = ".4f") -> str:
            v = np.array([r[k] for r in rs], dtype=float)
            return f"{v.mean():{fmt}} ± {v.std(ddof=1):{fmt}}" if len(v) > 1 else f"{v.mean():{fmt}}"
        lines.append(f"| {STRATEGY_LABELS[s]} | {len(rs)} | {ms('test/auc')} | {ms('test/acc')} | {ms('test/sensitivity')} "
                     f"| {ms('test/specificity')} | {ms('train_seconds', '.0f')} |")
    for method, auc, acc in PUBLISHED:
        lines.append(f"| {method} (published) | | {auc:.3f} | {acc:.3f} | | | |")
    lines += ["", f"Published rows: {CITATION}.", "", "## Every run", "",
              "| strategy | seed | test AUC | test ACC | sens | spec | val AUC | best epoch | train s | run |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['strategy']} | {r['seed']} | {r['test/auc']:.4f} | {r['test/acc']:.4f} | {r['test/sensitivity']:.4f} "
                     f"| {r['test/specificity']:.4f} | {r['val/auc']:.4f} | {int(r['best_epoch'])} | {r['train_seconds']:.0f} | {r['run']} |")
    lines += ["", "## Configurations", ""]
    for s, c in cfgs.items():
        lines.append(f"- {s}: `{json.dumps({k: v for k, v in c.__dict__.items() if k != 'seed'}, sort_keys=True)}`")
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("\n".join(lines) + "\n")
    Path(out).with_suffix(".json").write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
