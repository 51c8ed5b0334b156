"""Training-step time of an older engine against this one, in one process, in turn (a ratio that
survives a shared machine's load).

    OMP_NUM_THREADS=1 python bench/step_ab.py --old 5955cc9 --threads 1
    (writes bench/step_ab.md and .json)

The old engine comes from `git archive OLD engine` renamed to `engine_old` in a temporary folder, so
both import side by side. For each model (ml-100k R1 seed 0, default config) both build the same
model from the same seed and time `--steps` training steps (loss, backward, Adam) on the same batches,
old then new then new then old ..., `--repeats` times; the table gives the medians and new / old.
"""
from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.machine import machine_line  # noqa: E402
from engine.threads import set_threads  # noqa: E402

MODELS = ["youtubednn", "gru4rec", "mind", "comirec-dr", "comirec-sa"]


def import_old(commit: str, where: Path):
    """engine/ at `commit` as the package engine_old (imports rewritten); returns engine_old.recsys.run."""
    tar = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "engine"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(where)], input=tar, check=True)
    (where / "engine").rename(where / "engine_old")
    for f in (where / "engine_old").rglob("*.py"):
        text = f.read_text()
        f.write_text(re.sub(r"\b(from|import) engine(?=[.\s])", r"\1 engine_old", text))
    sys.path.insert(0, str(where))
    import importlib

    return importlib.import_module("engine_old.recsys.run")


def stepper(run_mod, model: str, steps: int):
    """A function that times `steps` training steps of a fresh default `model` built by `run_mod`."""
    from engine.recsys.optim import make_optimizer

    cfg = run_mod.RecsysConfig(model=model, dataset="ml-100k", seed=0)
    split = run_mod.split_of(cfg)
    torch.manual_seed(cfg.seed)
    m = run_mod.build_model(cfg, split)
    opt = make_optimizer(m, run_mod.param_groups(m, cfg.weight_decay), cfg.lr)
    order = torch.from_numpy(np.random.default_rng(cfg.seed).permutation(len(split.train_target)))
    hist, lens, target = (torch.from_numpy(a)[order] for a in (split.train_hist, split.train_len, split.train_target))
    bs = cfg.batch_size
    m.train()

    def timed() -> float:
        t0 = time.perf_counter()
        for i in range(steps):
            s = slice(i * bs, (i + 1) * bs)
            loss = m.loss(hist[s], lens[s], target[s])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss.item()
        return (time.perf_counter() - t0) / steps

    timed()  # warm-up
    return timed


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", default="main", help="the older commit")
    ap.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=4)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(ROOT / "bench" / "step_ab"))
    a = ap.parse_args(argv)
    set_threads(a.threads)
    import engine.recsys.run as new_run

    load_before = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    new_rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        old_run = import_old(a.old, Path(tmp))
        for model in a.models:
            old, new = stepper(old_run, model, a.steps), stepper(new_run, model, a.steps)
            t_old, t_new = [], []
            for r in range(a.repeats):
                for side in ((old, new) if r % 2 == 0 else (new, old)):
                    (t_old if side is old else t_new).append(side())
            rows.append({"model": model, "old_ms": 1e3 * statistics.median(t_old), "new_ms": 1e3 * statistics.median(t_new),
                         "ratio": statistics.median(t_new) / statistics.median(t_old)})
            print(rows[-1], flush=True)
    meta = {"old": a.old, "new": new_rev + " (working tree)", "threads": a.threads, "steps": a.steps, "repeats": a.repeats, "machine": machine_line(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "load_before": load_before,
            "load_after": " ".join(Path("/proc/loadavg").read_text().split()[:3])}
    Path(a.out + ".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    lines = ["# Training step: older engine against this one, in one process", "",
             f"Command: `python bench/step_ab.py --old {a.old} --threads {a.threads} --repeats {a.repeats} --steps {a.steps}`; "
             f"old {a.old}, new {meta['new']}.", "",
             f"Machine: {meta['machine']}; threads {a.threads}. Date: {meta['date']}; load average before / after: "
             f"{meta['load_before']} / {meta['load_after']} (a shared machine: only the ratio is meaningful).", "",
             f"Median ms per training step (loss, backward, Adam) over {a.repeats} alternating runs of {a.steps} steps; "
             "ml-100k R1 seed 0, each model's default config.", "",
             "| model | old ms/step | new ms/step | new / old |", "|---|---|---|---|"]
    lines += [f"| {r['model']} | {r['old_ms']:.1f} | {r['new_ms']:.1f} | **{r['ratio']:.3f}** |" for r in rows]
    Path(a.out + ".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
