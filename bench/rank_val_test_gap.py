"""Why rankers score higher on validation than on test users (synthetic data): the same run, both sets, every epoch.

    python bench/rank_val_test_gap.py --models base dien --seeds 0 1 --epochs 12 > bench/rank_val_test_gap.md

A diagnostic only: test numbers per epoch are printed to explain a gap, never used to choose anything (the
rankers' epochs are chosen on validation NDCG@10 alone, engine/rank/run.py). Each ranker trains with its default
RankConfig; after every epoch, NDCG@10 over all items (protocol.full_ranking) for validation and test users.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from engine.machine import machine_line
from engine.rank import protocol
from engine.rank.run import RankConfig, build_ranker, split_of, train_epoch


def curve(model: str, dataset: str, seed: int, epochs: int) -> list[tuple[float, float]]:
    cfg = RankConfig(model=model, dataset=dataset, seed=seed)
    split = split_of(cfg)
    torch.manual_seed(seed)
    ranker = build_ranker(cfg, split)
    rng = np.random.default_rng(seed)
    opt = torch.optim.Adam(ranker.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    out = []
    for _ in range(epochs):
        train_epoch(ranker, split, cfg, rng, opt)
        ranker.eval()
        out.append((protocol.full_ranking(ranker, split.val)["ndcg@10"], protocol.full_ranking(ranker, split.test)["ndcg@10"]))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--models", nargs="+", default=["base", "dien"])
    ap.add_argument("--dataset", default="synthetic")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1])
    ap.add_argument("--epochs", type=int, default=12)
    a = ap.parse_args()
    torch.set_num_threads(1)
    t0 = time.time()
    print(f"# Rankers: validation and test NDCG@10 (ranker alone, all items) after every epoch, {a.dataset}\n")
    print(f"Command: `python bench/rank_val_test_gap.py --models {' '.join(a.models)} --dataset {a.dataset} --seeds {' '.join(map(str, a.seeds))} --epochs {a.epochs}`\n")
    print(f"Machine: {machine_line()}; 1 thread.\n")
    rows, gaps = [], {}
    for m in a.models:
        for s in a.seeds:
            c = curve(m, a.dataset, s, a.epochs)
            rows.append((m, s, c))
            v = np.array([x[0] for x in c]); te = np.array([x[1] for x in c])
            best = int(np.argmax(v))  # what selection on validation would pick within these epochs
            gaps[(m, s)] = (float((v - te).mean()), float(v[best] - te[best]), best + 1)
    print("| model | seed | " + " | ".join(f"ep {i + 1} val / test" for i in range(a.epochs)) + " |")
    print("|---|---|" + "---|" * a.epochs)
    for m, s, c in rows:
        print(f"| {m} | {s} | " + " | ".join(f"{v:.3f} / {te:.3f}" for v, te in c) + " |")
    print("\n| model | seed | mean val − test over all epochs | val − test at the best validation epoch (epoch) |")
    print("|---|---|---|---|")
    for (m, s), (mean_gap, best_gap, ep) in gaps.items():
        print(f"| {m} | {s} | {mean_gap:+.3f} | {best_gap:+.3f} ({ep}) |")
    print(f"\nWhole run {(time.time() - t0) / 60:.1f} min.")


if __name__ == "__main__":
    main()
