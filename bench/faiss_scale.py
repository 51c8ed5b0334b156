"""faiss at catalogue scale: Flat, IVF-Flat, IVF-PQ, PQ, a 4-bit scalar quantizer and HNSW over an nprobe / efSearch sweep.

    OMP_NUM_THREADS=1 python bench/faiss_scale.py --items 1000000 --queries 1000 --threads 1
    (writes bench/faiss_scale.md and bench/faiss_scale.json; the Scale page reads the JSON)

Vectors: engine.faiss_bench.clustered_vectors (structured synthetic vectors shaped like trained
item embeddings: topic clusters, popularity-dependent norms), cached under --cache-dir.
"""
from __future__ import annotations

import argparse
import shlex
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.machine import machine_line  # noqa: F401 (the other bench scripts import it from here)
from engine.faiss_bench import clustered_vectors, default_settings, sweep, targets  # noqa: E402
from engine.threads import set_threads  # noqa: E402

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=1_000_000)
    ap.add_argument("--dim", type=int, default=64)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--k", type=int, default=50)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", default=os.environ.get("EMBEDLAB_SCALE_DIR", "/tmp/scale-data"))
    ap.add_argument("--out", default=str(HERE / "faiss_scale"), help="path without extension for .md and .json")
    ap.add_argument("--note", default="", help="load note for the table (e.g. the machine was shared)")
    ap.add_argument("--only", nargs="+", default=None, metavar="LABEL",
                    help="measure only these indexes (e.g. SQ4) and put their rows into the existing JSON and table, "
                         "which say which rows were measured when")
    args = ap.parse_args(argv)
    set_threads(args.threads)
    load0 = os.getloadavg()
    cache = Path(args.cache_dir) / f"faiss_vectors_{args.items}x{args.dim}_q{args.queries}_s{args.seed}.npz"
    t0 = time.perf_counter()
    if cache.exists():
        z = np.load(cache)
        vecs, queries = z["items"], z["queries"]
    else:
        vecs, queries = clustered_vectors(args.items, args.queries, d=args.dim, seed=args.seed)
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, items=vecs, queries=queries)
    print(f"vectors {vecs.shape} in {time.perf_counter() - t0:.1f} s", flush=True)
    settings = default_settings(len(vecs))
    order = [s.label for s in settings]  # the table's row order
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    earlier = None
    if args.only:
        unknown = set(args.only) - set(order)
        if unknown:
            sys.exit(f"--only: no index called {sorted(unknown)}; the bench's indexes are {order}")
        settings = [s for s in settings if s.label in args.only]
        earlier = json.loads(Path(args.out + ".json").read_text())
    new_rows = sweep(vecs, queries, settings, k=args.k, log=lambda m: print(m, flush=True))
    load1 = os.getloadavg()
    for x in new_rows:
        x["measured"] = f"{stamp}, load {load0[0]:.2f} → {load1[0]:.2f}"
    if earlier is not None:  # the other rows as they were measured, in the bench's order
        rows = [x for x in earlier["rows"] if x["index"] not in args.only] + new_rows
        rows.sort(key=lambda x: order.index(x["index"]) if x["index"] in order else len(order))
    else:
        rows = new_rows
    tg = targets(rows, args.k)
    cmd = "OMP_NUM_THREADS=1 python bench/faiss_scale.py " + shlex.join(argv if argv is not None else sys.argv[1:])
    meta = {
        "command": cmd.strip(),
        "machine": machine_line(),
        "threads": args.threads,
        "items": len(vecs),
        "dim": args.dim,
        "queries": len(queries),
        "k": args.k,
        "vectors": "structured synthetic (engine.faiss_bench.clustered_vectors: 1000 topic clusters, popularity-dependent norms), not a trained model",
        "loadavg_start_end": [round(load0[0], 2), round(load1[0], 2)],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "note": args.note,
        "date": stamp,
    }
    if earlier is not None:  # a partial rerun: the table's header stays the full run's, the new rows say when they were measured
        meta = {**earlier["meta"], "reruns": earlier["meta"].get("reruns", []) + [
            {"indexes": args.only, "command": meta["command"], "date": stamp, "loadavg_start_end": meta["loadavg_start_end"]}]}
    Path(args.out + ".json").write_text(json.dumps({"meta": meta, "rows": rows, "targets": tg}, indent=1))
    r = f"recall@{args.k}"
    lines = [
        f"# faiss at {len(vecs):,} x {args.dim}: recall vs latency vs memory",
        "",
        f"Command: `{meta['command']}`  ",
        f"Machine: {meta['machine']}; {args.threads} thread(s); date {meta['date']}.  ",
        f"Load: 1-minute load average {meta['loadavg_start_end'][0]} at start, {meta['loadavg_start_end'][1]} at end "
        f"(2 cores shared with other developers: latencies are upper bounds; compare rows, not machines). {meta['note']}  ",
        f"Vectors: {meta['vectors']}. {len(queries)} queries (Dirichlet mixes of 1-4 topics); exact = IndexFlatIP.  ",
        f"Latency: one query per call through engine.retrieval.VectorIndex.search (Flat: first 100 queries); "
        f"throughput: one batch call of all {len(queries)} queries. Bytes/vector: serialised index size / items.",
        *[f"Rerun of {', '.join(x['indexes'])} alone: `{x['command']}` on {x['date']} (load {x['loadavg_start_end'][0]} → "
          f"{x['loadavg_start_end'][1]}); those rows are marked *." for x in meta.get("reruns", [])],
        "",
        f"| index | {'knob':>9} | build s | bytes/vector | memory vs Flat | Recall@{args.k} | p50 ms | p99 ms | batch q/s |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for x in rows:
        knob = f"{x['param']}={x['value']}" if x["param"] else "-"
        lines.append(f"| {x['index']}{' *' if 'measured' in x else ''} | {knob} | {x['build_s']:.1f} | {x['bytes_per_vector']:.1f} | {x['memory_vs_flat']:.3f} | "
                     f"{x[r]:.3f} | {x['p50_ms']:.3f} | {x['p99_ms']:.3f} | {x['qps_batch']:.0f} |")
    lines += ["", "Targets:"]
    for name, want in (("fast", "Recall@50 >= 0.95 with p50 <= 1 ms on 1 thread"), ("small", "Recall@50 >= 0.90 within 1/8 of Flat's memory (to 0.1 %: a trained table of a few hundred bytes may come on top of codes that are exactly 1/8)")):
        x = tg[name]
        lines.append(f"- {want}: " + (f"**{x['index']}{' ' + x['param'] + '=' + str(x['value']) if x['param'] else ''}** (Recall {x[r]:.3f}, p50 {x['p50_ms']:.3f} ms, "
                                       f"{x['bytes_per_vector']:.1f} bytes/vector = {x['memory_vs_flat']:.3f} of Flat)" if x else "not met by any row"))
    lines.append(f"\nPeak RSS of the bench process: {meta['peak_rss_mb']:.0f} MB.")
    Path(args.out + ".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
