"""`python -m engine recsys bench`: every model over several seeds under R1, one table (mean ± std).

Each (model, seed) trains in its own subprocess (`python -m engine recsys train`), so the peak
memory reported is that run's alone and the runs land in the run store where the app finds them.
On synthetic data the table also reports interest recovery (interest_recovery.py) beside k-means.
"""
from __future__ import annotations

import json
import os
import platform
import shlex
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from engine.cli_recsys import synthetic_from_args
from engine.machine import machine_line

_ROOT = Path(__file__).resolve().parents[2]  # the repository: the subprocesses import engine from here
S1_COLUMNS = ("interest_cosine", "interest_purity@10", "interest_distinct", "topic_coverage", "topic_coverage_present")
METRICS = ("recall@20", "ndcg@20", "hitrate@20", "recall@50", "ndcg@50", "hitrate@50", "diversity@50")
_PASS_THROUGH = (
    "dataset", "data_dir", "runs_dir", "maxlen", "dim", "k", "iterations", "loss", "n_negatives", "readout",
    "epochs", "lr", "batch_size", "patience", "dropout", "weight_decay", "p", "interest_reg", "couple_temp",
    "syn_users", "syn_items", "syn_topics", "syn_noise", "syn_switch", "syn_order", "syn_min_len", "syn_max_len", "syn_seed",
    "threads",
)


def _train_cmd(args, model: str, seed: int) -> list[str]:
    cmd = [sys.executable, "-m", "engine", "recsys", "train", "--model", model, "--seed", str(seed), "--quiet"]
    for name in _PASS_THROUGH:
        v = getattr(args, name, None)
        if v is not None:
            cmd += [f"--{name.replace('_', '-')}", str(v)]
    if args.no_mask_history:
        cmd.append("--no-mask-history")
    if args.paper_faithful:
        cmd.append("--paper-faithful")
    if not args.reuse:
        cmd.append("--force")
    return cmd


def _fmt(values: list[float]) -> str:
    a = np.asarray(values, dtype=float)
    return f"{a.mean():.4f} ± {a.std(ddof=1) if len(a) > 1 else 0.0:.4f}"


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(_ROOT), os.environ.get("PYTHONPATH")]))}


def _result(proc: subprocess.CompletedProcess, what: str) -> dict:
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr)
        raise SystemExit(f"training {what} failed (exit {proc.returncode})")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _threads(args) -> int:
    return int(args.threads or os.environ.get("EMBEDLAB_THREADS", 2))


def _threads_per_job(args) -> int:
    return max(1, _threads(args) // args.jobs)


def _train_all(args, jobs: list[tuple[str, int]]) -> list[dict]:
    """Train every (model, seed), `args.jobs` processes at a time, sharing the threads between them."""
    from concurrent.futures import ThreadPoolExecutor

    from engine.progress import terminal

    per_job = _threads_per_job(args)
    done: list[int] = []

    def one(job: tuple[str, int]) -> dict:
        model, seed = job
        cmd = _train_cmd(args, model, seed) + ["--threads", str(per_job)]
        out = _result(subprocess.run(cmd, capture_output=True, text=True, env=_env()), f"{model} seed {seed}")
        done.append(1)
        terminal(len(done) / len(jobs), f"{model} seed {seed} done")
        return {**out, "model": model, "seed": seed}

    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        return list(pool.map(one, jobs))


def _quiet_epoch_seconds(args, model: str, seed: int) -> float:
    """One epoch alone on the machine with all the threads: the s/epoch the table reports."""
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        cmd = _train_cmd(args, model, seed) + ["--epochs", "1", "--out", tmp, "--threads", str(_threads(args))]
        return float(_result(subprocess.run(cmd, capture_output=True, text=True, env=_env()), f"{model} (timing)")["metrics"]["seconds_per_epoch"])


def run_bench(args) -> Path:
    from engine.progress import terminal

    t_start = time.perf_counter()
    results: dict[str, list[dict]] = {m: [] for m in args.models}
    recovery: dict[str, list[dict]] = {}
    jobs = [(m, s) for s in args.seeds for m in args.models]
    for out in _train_all(args, jobs):
        model, seed = out["model"], out["seed"]
        results[model].append(out)
        if args.dataset == "synthetic" and model in ("mind", "comirec-dr", "comirec-sa"):
            from engine.recsys.interest_recovery import interest_recovery
            from engine.recsys.run import load_run

            run = load_run(out["path"], args.data_dir)
            rec = interest_recovery(run.model, run.split, run.split.val if args.split == "val" else None)
            recovery.setdefault(model, []).append({k: rec[k] for k in ("model_ari", "kmeans_ari", "n_users")})
    quiet = {m: (_quiet_epoch_seconds(args, m, args.seeds[0]) if args.jobs > 1 and m != "mostpop" else None) for m in args.models}
    terminal(1.0, "done")
    wall = time.perf_counter() - t_start

    name = "ml100k" if args.dataset == "ml-100k" else ("synthetic" if args.dataset == "synthetic" else Path(args.dataset).stem)
    out_path = Path(args.bench_dir) / f"{args.table or f'recsys_{name}'}.md"
    out_path.parent.mkdir(parents=True, exist_ok=True)
    argv = ["python", "-m", "engine", "recsys", "bench", *sys.argv[sys.argv.index("bench") + 1 :]] if "bench" in sys.argv else ["python -m engine recsys bench"]
    lines = [
        f"# Recall models on {args.dataset} under protocol R1",
        "",
        f"Command: `{shlex.join(argv)}`",
        "",
        f"Machine: {machine_line()}; threads {_threads(args)}.",
        f"Date: {datetime.now(timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}; whole benchmark {wall / 60:.1f} min "
        f"({len(jobs)} runs, each in its own process{'' if args.reuse else ', retrained'}, {args.jobs} at a time with "
        f"{_threads_per_job(args)} thread(s) each).",
        "",
        *([f"Data: {synthetic_from_args(args)!r}.", ""] if args.dataset == "synthetic" else []),
        f"Seeds {' '.join(map(str, args.seeds))}: mean ± sample std over seeds. "
        + ("Test users of each seed's split; model selection (early stopping on Recall@50) on validation users only. "
           if args.split == "test" else
           "VALIDATION users of each seed's split, the users early stopping and hyperparameter choices look at: "
           "this table reproduces a choice, it is not a held-out estimate. ")
        + "Metrics are fractions.",
        "",
        "| model | " + " | ".join(METRICS) + " | s/epoch (seed " + str(args.seeds[0]) + ") | epochs (best) | peak RSS MB |",
        "|---" * (len(METRICS) + 4) + "|",
    ]
    for model, runs in results.items():
        cells = [_fmt([r["metrics"][f"{args.split}/{m}"] for r in runs]) for m in METRICS]
        first = runs[0]["metrics"]
        epochs = ", ".join(f"{r['metrics']['epochs_run']} ({r['metrics']['best_epoch']})" for r in runs)
        peak = max(r["metrics"]["peak_rss_mb"] for r in runs)
        secs = quiet[model] if quiet[model] is not None else first["seconds_per_epoch"]
        lines.append(f"| {model} | " + " | ".join(cells) + f" | {secs:.2f} | {epochs} | {peak:.0f} |")
    lines += [
        "",
        ("s/epoch: wall time of one pass over the training examples (validation excluded) of the first seed, measured "
         f"after the training runs in a separate one-epoch run alone on the machine with {_threads(args)} threads. "
         if args.jobs > 1 else
         "s/epoch: median wall time of one pass over the training examples (validation excluded) of the first seed. ")
        +
        "Peak RSS: the training process's maximum resident memory (Python, torch, faiss and data included). "
        "Speed beside torch-rechub, measured side by side in one process: bench/peer_speed.md.",
    ]
    separated = {m: rs for m, rs in results.items() if f"{args.split}/interest_cosine" in rs[0]["metrics"]}
    if separated:
        cov = args.dataset == "synthetic"
        cols = [c for c in S1_COLUMNS if cov or "coverage" not in c]
        lines += [
            "",
            "## Interest separation (protocol S1)",
            "",
            f"Each {'test' if args.split == 'test' else 'validation'} user with at least 2 active interests: mean pairwise cosine of the "
            "interest vectors; each interest's top 10 items (history excluded) and their majority category "
            f"({'planted topic' if cov else 'first genre / category'}): purity = its share, distinct = distinct majorities / "
            "interests" + ("; coverage = share of the user's planted topics (users with 2+) that are some interest's "
                           "majority, and the same among the topics present in the history the model reads" if cov else "")
            + ". k-means: the same figures for k-means centroids (as many as the model's interests) of the user's history "
            "item vectors. Remedy: " + ("none, the papers as written (`--paper-faithful`)." if args.paper_faithful else
                                        "each model's default (seeded routing; see engine/recsys/run.py)."),
            "",
            "| model | " + " | ".join(cols) + " | " + " | ".join(f"k-means {c}" for c in cols if c != "topic_coverage_present") + " |",
            "|---" * (1 + 2 * len(cols) - (1 if cov else 0)) + "|",
        ]
        for model, runs in separated.items():
            mine = [_fmt([r["metrics"][f"{args.split}/{c}"] for r in runs]) for c in cols]
            ref = [_fmt([r["metrics"][f"{args.split}/kmeans_{c}"] for r in runs]) for c in cols if c != "topic_coverage_present"]
            lines.append(f"| {model} | " + " | ".join(mine + ref) + " |")
    if recovery:
        lines += [
            "",
            "## Interest recovery (synthetic: planted topics known)",
            "",
            f"Adjusted Rand index between each {'test' if args.split == 'test' else 'validation'} user's behaviour-to-interest assignment (argmax of the "
            "coupling weights at the last routing iteration; ComiRec-SA: of the attention weights) and the "
            "behaviours' planted topics, averaged over those users with at least 2 planted interests; beside it, "
            "k-means with as many clusters as the user's interests on the same behaviour embeddings.",
            "",
            "| model | ARI routing | ARI k-means (same embeddings) | users per seed |",
            "|---|---|---|---|",
        ]
        for model, recs in recovery.items():
            lines.append(
                f"| {model} | {_fmt([r['model_ari'] for r in recs])} | {_fmt([r['kmeans_ari'] for r in recs])} | "
                f"{', '.join(str(r['n_users']) for r in recs)} |"
            )
    out_path.write_text("\n".join(lines) + "\n")
    print(out_path.read_text())
    return out_path
