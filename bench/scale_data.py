"""Time and peak memory of the million-item catalogue: generate, R1 split, cache write, memory-mapped reload.

    OMP_NUM_THREADS=1 python bench/scale_data.py --cache-dir /tmp/scale-data   (writes bench/scale_data.md)
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

HERE = Path(__file__).resolve().parent

CHILD = """
import json, resource, sys, time
from engine.data import scale
cfg = scale.SCALE_DEFAULT
t0 = time.perf_counter(); split = scale.load_split(cfg, seed=0, maxlen=20, cache_dir=sys.argv[1]); t1 = time.perf_counter()
print(json.dumps({"seconds": t1 - t0, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, "stats": split.stats()}))
"""


def _run(cache: str) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD, cache], capture_output=True, text=True, check=True,
                         cwd=str(HERE.parent))
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    from bench.faiss_scale import machine_line
    from engine.data import scale

    ap = argparse.ArgumentParser()
    ap.add_argument("--cache-dir", default="/tmp/scale-data/bench")
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    shutil.rmtree(args.cache_dir, ignore_errors=True)
    t0 = time.perf_counter()
    a = scale.generate_arrays(scale.SCALE_DEFAULT)
    gen_s = time.perf_counter() - t0
    gen_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    del a
    cold, warm = _run(args.cache_dir), _run(args.cache_dir)
    size = sum(f.stat().st_size for f in Path(args.cache_dir).rglob("*") if f.is_file())
    cfg = scale.SCALE_DEFAULT
    lines = [f"# The million-item catalogue: {cfg.n_items:,} items, {cfg.n_users:,} users, {cfg.n_topics:,} topics", "",
             "Command: `OMP_NUM_THREADS=1 python bench/scale_data.py --cache-dir /tmp/scale-data/bench`  ",
             f"Machine: {machine_line()}; 1 thread; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; 2 cores shared. {args.note}", "",
             "| step | seconds | peak RSS (MB) |", "|---|---:|---:|",
             f"| generate the log (engine.data.scale.generate_arrays, vectorised) | {gen_s:.1f} | {gen_rss:,.0f} |",
             f"| generate + R1 split + write the cache (fresh process) | {cold['seconds']:.1f} | {cold['peak_rss_mb']:,.0f} |",
             f"| reload the cached split, memory-mapped (fresh process) | {warm['seconds']:.1f} | {warm['peak_rss_mb']:,.0f} |", "",
             f"Cache on disk: {size / 2**20:,.0f} MiB. Split (R1 keeps items and users with at least 5 interactions): "
             + ", ".join(f"{k} {v:,}" for k, v in cold["stats"].items()) + "."]
    (HERE / "scale_data.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
