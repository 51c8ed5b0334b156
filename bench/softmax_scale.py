"""Full vs sampled softmax as the catalogue grows: ms per training step and the logit matrix's bytes.

    OMP_NUM_THREADS=1 python bench/softmax_scale.py --threads 1
    (writes bench/softmax_scale.md and bench/softmax_scale.json; the Scale page reads the JSON)

One YouTubeDNN training step (loss, backward, optimiser step) on a random batch of 512 histories
of 20 items, d = 64, per catalogue size. "sampled, dense Adam" keeps a dense [I+1, d] item gradient
and Adam update (what the engine did before at any size); "sampled, sparse" is the engine's choice
from engine.recsys.base.SPARSE_ITEMS_FROM items on (sparse rows + SparseAdam). The full softmax above
FULL_SOFTMAX_MAX_BYTES of logits is refused by the engine; its bytes are still listed.
"""
from __future__ import annotations

import argparse
import shlex
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.faiss_scale import machine_line  # noqa: E402
from engine.errors import ConfigError  # noqa: E402
from engine.recsys import base  # noqa: E402
from engine.recsys.optim import make_optimizer  # noqa: E402
from engine.recsys.youtubednn import YouTubeDNN  # noqa: E402
from engine.threads import set_threads  # noqa: E402

HERE = Path(__file__).resolve().parent


def step_ms(n_items: int, loss: str, sparse: bool, batch: int, steps: int, n_neg: int = 256) -> float:
    old = base.SPARSE_ITEMS_FROM
    base.SPARSE_ITEMS_FROM = 1 if sparse else 10**12
    try:
        torch.manual_seed(0)
        model = YouTubeDNN(n_items, dim=64, maxlen=20, loss=loss, n_negatives=n_neg, dropout=0.0)
    finally:
        base.SPARSE_ITEMS_FROM = old
    opt = make_optimizer(model, [{"params": list(model.parameters()), "weight_decay": 0.0}], 1e-3)
    g = torch.Generator().manual_seed(0)
    times = []
    for s in range(steps + 1):
        hist = torch.randint(1, n_items + 1, (batch, 20), generator=g)
        target = torch.randint(1, n_items + 1, (batch,), generator=g)
        t0 = time.perf_counter()
        loss_v = model.loss(hist, torch.full((batch,), 20), target)
        opt.zero_grad(set_to_none=True)
        loss_v.backward()
        opt.step()
        if s:  # the first step warms up allocations
            times.append(time.perf_counter() - t0)
    return 1e3 * sorted(times)[len(times) // 2]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 300_000, 1_000_000])
    ap.add_argument("--batch", type=int, default=512)
    ap.add_argument("--steps", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(HERE / "softmax_scale"))
    ap.add_argument("--note", default="")
    args = ap.parse_args(argv)
    set_threads(args.threads)
    rows = []
    for n in args.sizes:
        row = {"items": n, "full_logit_bytes": base.full_softmax_bytes(args.batch, n + 1),
               "sampled_logit_bytes": base.full_softmax_bytes(args.batch, args.batch + 256)}
        try:
            base.check_full_softmax(args.batch, n + 1)
            row["full_ms"] = step_ms(n, "softmax", False, args.batch, args.steps)
        except ConfigError:
            row["full_ms"] = None  # refused
        row["sampled_dense_ms"] = step_ms(n, "sampled", False, args.batch, args.steps)
        row["sampled_sparse_ms"] = step_ms(n, "sampled", True, args.batch, args.steps)
        rows.append(row)
        print(row, flush=True)
    meta = {"command": "OMP_NUM_THREADS=1 python bench/softmax_scale.py " + shlex.join(argv if argv is not None else sys.argv[1:]),
            "machine": machine_line(), "threads": args.threads, "batch": args.batch, "note": args.note,
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    Path(args.out + ".json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=1))
    fmt = lambda v: "refused" if v is None else f"{v:.1f}"  # noqa: E731
    lines = [f"# Full vs sampled softmax as the catalogue grows (YouTubeDNN, batch {args.batch}, d 64, L 20)", "",
             f"Command: `{meta['command']}`  ", f"Machine: {meta['machine']}; {args.threads} thread; {meta['date']}. "
             f"Median ms per training step (loss + backward + optimiser) of {args.steps}; the machine's 2 cores were shared "
             f"(compare columns within a row). {args.note}", "",
             "| items | full softmax ms | full logits [B, I+1] | sampled (dense Adam) ms | sampled (sparse rows + SparseAdam) ms | sampled logits [B, B+256] |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['items']:,} | {fmt(r['full_ms'])} | {r['full_logit_bytes'] / 2**20:,.0f} MiB | {r['sampled_dense_ms']:.1f} | "
                     f"{r['sampled_sparse_ms']:.1f} | {r['sampled_logit_bytes'] / 2**20:.1f} MiB |")
    lines.append(f"\nThe engine refuses a full softmax whose logits exceed {base.FULL_SOFTMAX_MAX_BYTES / 2**30:.0f} GiB and uses sparse "
                 f"item rows from {base.SPARSE_ITEMS_FROM:,} items on.")
    Path(args.out + ".md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
