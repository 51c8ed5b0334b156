"""`python -m engine rank bench`: rankers and two-stage recommendation under protocol R2, one table per dataset.

For each seed: the four recall runs (YouTubeDNN, MIND, ComiRec-DR, ComiRec-SA with their default
configs) are trained or reused through engine.recsys.run.train; BaseModel, DIN, DIEN and DIEN's
ablations are trained once (engine.rank.run.train), and BaseModel, DIN and DIEN re-rank each recall
run's top 200. The table records which recall runs it used (path and code version), the machine and
the wall time. One process, `--threads` threads (default 1), runs one after another.
"""
from __future__ import annotations

import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch

from engine.machine import machine_line
from engine.progress import Progress, silent
from engine.rank.run import PAPERS, RankConfig, split_of, train, train_epoch, build_ranker

RECALL_MODELS = ("youtubednn", "mind", "comirec-dr", "comirec-sa")
RECALL_LABELS = {"youtubednn": "YouTubeDNN", "mind": "MIND", "comirec-dr": "ComiRec-DR", "comirec-sa": "ComiRec-SA"}
MAIN = (dict(model="base"), dict(model="din"), dict(model="dien"))
ABLATIONS = (dict(model="dien", evolution="aigru"), dict(model="dien", evolution="agru"), dict(model="dien", aux_weight=0.0))


def _fmt(values) -> str:
    a = np.asarray(values, dtype=float)
    return f"{a.mean():.4f} ± {a.std(ddof=1) if len(a) > 1 else 0.0:.4f}"


def epoch_ratio(dataset: str = "ml-100k", seed: int = 0, data_dir=None, rank_overrides: dict | None = None) -> dict:
    """Seconds of one DIEN epoch and one GRU4Rec epoch (its default config), timed in this process one after
    the other on the same training examples, and their ratio."""
    from engine.recsys.run import RecsysConfig, build_model, split_of as recall_split

    rc = RecsysConfig(model="gru4rec", dataset=dataset, seed=seed)
    split = recall_split(rc, data_dir)
    torch.manual_seed(0)
    gru = build_model(rc, split)
    opt = torch.optim.Adam(gru.parameters(), lr=rc.lr)
    hist, lens, target = map(torch.from_numpy, (split.train_hist, split.train_len, split.train_target))
    order = torch.from_numpy(np.random.default_rng(0).permutation(len(target)))
    gru.train()
    t0 = time.perf_counter()
    for i in range(0, len(target), rc.batch_size):  # the inner loop of engine.recsys.run.fit
        idx = order[i : i + rc.batch_size]
        loss = gru.loss(hist[idx], lens[idx], target[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    gru_s = time.perf_counter() - t0
    out = {"gru4rec_s": gru_s}
    for name, over in (("dien", rank_overrides or {}), ("dien_paper", PAPERS)):  # the bench's settings, then the papers' (1 negative, log loss)
        cfg = RankConfig(model="dien", dataset=dataset, seed=seed, **over)
        torch.manual_seed(0)
        dien = build_ranker(cfg, split_of(cfg, data_dir))
        row = train_epoch(dien, split_of(cfg, data_dir), cfg, np.random.default_rng(0), torch.optim.Adam(dien.parameters(), lr=cfg.lr))
        out[f"{name}_s"], out[f"{name}_ratio"] = row["seconds"], row["seconds"] / gru_s
    return out


def run_bench(dataset: str, seeds: list[int], bench_dir: str | Path = "bench", data_dir=None, runs_root=None,
              threads: int = 1, overrides: dict | None = None, table: str | None = None, progress: Progress = silent,
              ablations: bool = True) -> Path:
    from engine.recsys.run import RecsysConfig, train as train_recall

    overrides = overrides or {}
    t_all = time.perf_counter()
    recall_paths: dict[tuple[str, int], str] = {}
    recall_versions: dict[tuple[str, int], int] = {}
    t_recall = time.perf_counter()
    for seed in seeds:
        for m in RECALL_MODELS:
            progress(0.0, f"recall run {m} seed {seed}")
            r = train_recall(RecsysConfig(model=m, dataset=dataset, seed=seed), data_dir=data_dir, runs_root=runs_root, threads=threads)
            recall_paths[m, seed], recall_versions[m, seed] = str(r.path), int(r.config.code_version)
    recall_s = time.perf_counter() - t_recall

    t_rank = time.perf_counter()
    results: dict[str, dict[int, dict]] = {}  # variant label -> seed -> metrics (with two-stage per recall model)
    for seed in seeds:
        for variant in MAIN + (ABLATIONS if ablations else ()):
            cfg = RankConfig(dataset=dataset, seed=seed, **{**overrides, **variant})
            progress(0.0, f"{cfg.label} seed {seed}")
            base = train(cfg, data_dir=data_dir, runs_root=runs_root, threads=threads)
            entry = {"metrics": base.metrics, "two_stage": {}}
            if variant in MAIN:
                for m in RECALL_MODELS:
                    r = train(cfg.replace(recall_run=recall_paths[m, seed]), data_dir=data_dir, runs_root=runs_root, threads=threads)
                    entry["two_stage"][m] = r.metrics
            results.setdefault(cfg.label, {})[seed] = entry
    rank_s = time.perf_counter() - t_rank
    timing = epoch_ratio(dataset, seeds[0], data_dir, overrides)
    total_s = time.perf_counter() - t_all
    try:
        load = open("/proc/loadavg").read().split()[:3]
    except OSError:
        load = ["?"] * 3

    lines = [f"# Rankers and two-stage recommendation on {dataset} under protocol R2", ""]
    lines += [f"Command: `python -m engine rank bench --dataset {dataset} --seeds {' '.join(map(str, seeds))} --threads {threads}`"
              + (f" (overrides {overrides})" if overrides else ""), ""]
    lines += [f"Machine: {machine_line()}; {threads} thread(s). Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC. "
              f"Whole bench {total_s / 60:.1f} min: recall runs {recall_s / 60:.1f} min (trained or reused), rankers "
              f"{rank_s / 60:.1f} min, epoch timing {(timing['gru4rec_s'] + timing['dien_s'] + timing['dien_paper_s']) / 60:.1f} min. "
              f"Load average at the end: {' '.join(load)}.", ""]
    sel = RankConfig(**overrides).select
    lines += ["Mean ± sample std over seeds; test users of each seed's split; epochs chosen on validation users only, by "
              + ("the ranker's own NDCG@10 over all items" if sel == "ndcg" else "AUC 1:1") + ". AUC: share of (held-out item, "
              "sampled negative) pairs ordered correctly, averaged over users (R2 step 2). NDCG@10 alone: the ranker scores every "
              "item outside the history by itself, no recall stage (`protocol.full_ranking`).", ""]
    lines += ["## AUC", "", "| model | test AUC 1:1 | test AUC 1:100 | val AUC 1:1 | test NDCG@10 alone | val NDCG@10 alone | s/epoch | epochs run |",
              "|---|---|---|---|---|---|---|---|"]
    for label, by_seed in results.items():
        ms = [by_seed[s]["metrics"] for s in seeds]
        lines.append(f"| {label} | {_fmt([m['test/auc'] for m in ms])} | {_fmt([m['test/auc@1:100'] for m in ms])} | "
                     f"{_fmt([m['val/auc'] for m in ms])} | {_fmt([m['test/ndcg@10_all'] for m in ms])} | "
                     f"{_fmt([m['val/ndcg@10_all'] for m in ms])} | {np.median([m['seconds_per_epoch'] for m in ms]):.1f} | "
                     f"{', '.join(str(m['epochs_run']) for m in ms)} |")
    lines += ["", "## Two-stage: recall top 200, ranker re-orders, metrics @10 (test users)", ""]
    rankers = [lab for lab in results if any(results[lab][s]["two_stage"] for s in seeds)]
    lines += ["| recall model | metric | recall order | " + " | ".join(f"+ {r}" for r in rankers) + " |",
              "|---|---|---|" + "---|" * len(rankers)]
    for m in RECALL_MODELS:
        for metric in ("ndcg@10", "recall@10", "hitrate@10"):
            first = [results[rankers[0]][s]["two_stage"][m][f"test/{metric}_recall_only"] for s in seeds]
            cells = [_fmt([results[r][s]["two_stage"][m][f"test/{metric}"] for s in seeds]) for r in rankers]
            lines.append(f"| {RECALL_LABELS[m]} | {metric} | {_fmt(first)} | " + " | ".join(cells) + " |")
    lines += ["", "Validation NDCG@10 (the numbers a choice may be made on):", "",
              "| recall model | recall order | " + " | ".join(f"+ {r}" for r in rankers) + " |", "|---|---|" + "---|" * len(rankers)]
    for m in RECALL_MODELS:
        first = [results[rankers[0]][s]["two_stage"][m]["val/ndcg@10_recall_only"] for s in seeds]
        cells = [_fmt([results[r][s]["two_stage"][m]["val/ndcg@10"] for s in seeds]) for r in rankers]
        lines.append(f"| {RECALL_LABELS[m]} | {_fmt(first)} | " + " | ".join(cells) + " |")
    lines += ["", f"## Speed: one DIEN epoch vs one GRU4Rec epoch ({dataset}, seed {seeds[0]}, same process, one after the other)", "",
              f"GRU4Rec (default recall config, full softmax) {timing['gru4rec_s']:.1f} s; DIEN (AUGRU + auxiliary loss) with this "
              f"table's settings {timing['dien_s']:.1f} s (ratio **{timing['dien_ratio']:.2f}**), with the papers' settings (1 negative, "
              f"log loss) {timing['dien_paper_s']:.1f} s (ratio **{timing['dien_paper_ratio']:.2f}**).", ""]
    lines += ["## Recall runs used", "", "| recall model | seed | run | code version |", "|---|---|---|---|"]
    for (m, s), p in recall_paths.items():
        lines.append(f"| {RECALL_LABELS[m]} | {s} | `{Path(p).name}` | {recall_versions[m, s]} |")
    out = Path(bench_dir) / f"{table or 'rank_' + dataset.replace('-', '')}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    return out
