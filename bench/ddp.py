"""Examples per second of DDP training with 1 vs 2 processes (torchrun, gloo on CPU).

    OMP_NUM_THREADS=1 python bench/ddp.py   (writes bench/ddp.md and bench/ddp.json; the Scale page reads the JSON)

Each run: `torchrun --nproc-per-node P -m engine recsys train --model M --dataset ml-100k --epochs 2
--patience 9 --threads 1 --distributed --force --out DIR`; examples/s = training examples / the median
epoch's training seconds (rank 0's clock; validation excluded). Each process uses 1 thread.
"""
from __future__ import annotations

import argparse
import shlex
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.faiss_scale import machine_line  # noqa: E402

HERE = Path(__file__).resolve().parent
TORCHRUN = str(Path(sys.executable).with_name("torchrun"))


def one(model: str, procs: int, dataset: str, out: Path, epochs: int) -> dict:
    cmd = [TORCHRUN, "--standalone", f"--nproc-per-node={procs}", "-m", "engine", "recsys", "train", "--model", model,
           "--dataset", dataset, "--epochs", str(epochs), "--patience", "9", "--threads", "1", "--distributed", "--force",
           "--quiet", "--out", str(out)]
    env = dict(os.environ, OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    subprocess.run(cmd, check=True, cwd=str(HERE.parent), env=env, stdout=subprocess.DEVNULL)
    m = json.loads((out / "metrics.json").read_text())
    return {"model": model, "processes": procs, "examples_per_s": m["train_examples"] / m["seconds_per_epoch"],
            "seconds_per_epoch": m["seconds_per_epoch"], "test_recall@50": m["test/recall@50"], "train_examples": m["train_examples"]}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["youtubednn", "mind"])
    ap.add_argument("--dataset", default="ml-100k")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--work", default="/tmp/runs-scale/ddp")
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    rows = []
    load0 = os.getloadavg()[0]
    for model in args.models:
        for procs in (1, 2):
            r = one(model, procs, args.dataset, Path(args.work) / f"{model}-{procs}", args.epochs)
            rows.append(r)
            print(r, flush=True)
    meta = {"command": "OMP_NUM_THREADS=1 python bench/ddp.py " + shlex.join(sys.argv[1:]), "machine": machine_line(),
            "dataset": args.dataset, "load_start_end": [round(load0, 2), round(os.getloadavg()[0], 2)], "note": args.note,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    (HERE / "ddp.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = [f"# DDP: examples/s with 1 vs 2 processes ({args.dataset}, gloo, 1 thread per process)", "",
             f"Command: `{meta['command']}` (each run: torchrun --standalone --nproc-per-node P -m engine recsys train ... --distributed)  ",
             f"Machine: {meta['machine']}; {meta['date']}; 1-minute load {meta['load_start_end'][0]} at start, "
             f"{meta['load_start_end'][1]} at end. The 2 cores are shared with other developers, so 2 processes can at best "
             f"double the 1-process rate and in practice compete with the other work on the machine. {args.note}", "",
             "| model | processes | examples/s | s/epoch | ratio vs 1 process | test Recall@50 |", "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        base = next(x for x in rows if x["model"] == r["model"] and x["processes"] == 1)
        lines.append(f"| {r['model']} | {r['processes']} | {r['examples_per_s']:,.0f} | {r['seconds_per_epoch']:.1f} | "
                     f"{r['examples_per_s'] / base['examples_per_s']:.2f} | {r['test_recall@50']:.4f} |")
    (HERE / "ddp.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
