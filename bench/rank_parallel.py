"""Train every run `python -m engine rank bench` needs in parallel processes (1 thread each), then write the
tables with the bench itself (which then reuses every stored run).

    python bench/rank_parallel.py --jobs 15 --datasets ml-100k synthetic --seeds 0 1 2 [--phase train|tables|all]
        [--table-suffix _papers --negatives uniform --n-negatives 1 --category-share 0 --loss bce --select auc]

Every option it does not know itself (a RankConfig setting: --negatives, --n-negatives, --category-share, --loss,
--logq, --select, --epochs, --lr, ...) is passed on unchanged to each `rank train` and to `rank bench`.

Jobs run longest-first: ML-100K before synthetic, ComiRec-SA and DIEN first.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECALL = ("comirec-sa", "comirec-dr", "mind", "youtubednn")
VARIANTS = (["--model", "dien"], ["--model", "dien", "--evolution", "aigru"], ["--model", "dien", "--evolution", "agru"],
            ["--model", "dien", "--aux-weight", "0"], ["--model", "din"], ["--model", "base"])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--datasets", nargs="+", default=["ml-100k", "synthetic"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--phase", choices=("train", "tables", "all"), default="all")
    ap.add_argument("--table-suffix", default="")
    ap.add_argument("--skip-recall", action="store_true")
    ap.add_argument("--no-ablations", action="store_true")
    args, extra = ap.parse_known_args()  # the rest: RankConfig settings for `rank train` and `rank bench`
    variants = VARIANTS[-2:] + VARIANTS[:1] if args.no_ablations else VARIANTS
    py = [sys.executable, "-m", "engine"]
    cmds = []
    for d in args.datasets:
        for s in args.seeds:
            if not args.skip_recall:
                cmds += [py + ["recsys", "train", "--model", m, "--dataset", d, "--seed", str(s), "--threads", "1", "--quiet"] for m in RECALL]
            cmds += [py + ["rank", "train", *v, "--dataset", d, "--seed", str(s), "--threads", "1", "--quiet", *extra] for v in variants]

    def run(cmd):
        t = time.perf_counter()
        p = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        print(f"[{time.perf_counter() - t:6.1f}s rc={p.returncode}] {' '.join(cmd[3:])}", flush=True)
        if p.returncode:
            print(p.stderr[-2000:], flush=True)

    t0 = time.perf_counter()
    if args.phase in ("train", "all"):
        with ThreadPoolExecutor(args.jobs) as ex:
            list(ex.map(run, cmds))
        print(f"training phase {time.perf_counter() - t0:.0f} s", flush=True)
    if args.phase in ("tables", "all"):
        with ThreadPoolExecutor(min(args.jobs, len(args.datasets))) as ex:
            list(ex.map(run, [py + ["rank", "bench", "--datasets", d, "--seeds", *map(str, args.seeds), "--threads", "1", "--quiet",
                                    "--table-suffix", args.table_suffix, *extra] + (["--no-ablations"] if args.no_ablations else [])
                                   for d in args.datasets]))
        print(f"all phases {time.perf_counter() - t0:.0f} s", flush=True)


if __name__ == "__main__":
    main()
