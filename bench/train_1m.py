"""Training and evaluation on the million-item catalogue, timed: sampled-softmax steps and R1 evaluation
of the fixed 2,000-user validation sample through faiss (exact IndexFlatIP over every item).

    OMP_NUM_THREADS=1 EMBEDLAB_SCALE_DIR=/tmp/scale-data python bench/train_1m.py --steps 300   (writes bench/train_1m.md)

A whole epoch is ~2,900 steps of 1,024 examples; on the shared 2-core machine that is over an hour,
so this times a fixed number of steps (the same loop as engine.recsys.run.fit: loss, backward,
SparseAdam + Adam) and the evaluation that fit runs after every epoch.
"""
from __future__ import annotations

import argparse
import shlex
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.faiss_scale import machine_line  # noqa: E402
from engine.errors import ConfigError  # noqa: E402
from engine.recsys.run import RecsysConfig, build_model, evaluate_model, param_groups, split_of  # noqa: E402
from engine.recsys.optim import make_optimizer  # noqa: E402
from engine.threads import set_threads  # noqa: E402

HERE = Path(__file__).resolve().parent


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch-size", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=None, help="learning rate (default: the model's, tuned for ML-100K)")
    ap.add_argument("--note", default="")
    args = ap.parse_args()
    set_threads(1)
    cfg = RecsysConfig(model="youtubednn", dataset="synthetic-scale", loss="sampled", batch_size=args.batch_size, dropout=0.0,
                       **({"lr": args.lr} if args.lr else {}))
    t0 = time.perf_counter()
    split = split_of(cfg)
    load_s = time.perf_counter() - t0
    torch.manual_seed(0)
    model = build_model(cfg, split)
    try:
        build_model(cfg.replace(loss="softmax"), split).loss(*(torch.as_tensor(np.asarray(a[: args.batch_size])) for a in (split.train_hist, split.train_len, split.train_target)))
        refusal = "(no refusal)"
    except ConfigError as e:
        refusal = str(e)
    t0 = time.perf_counter()
    before = evaluate_model(model, split.val, split)
    eval_s = time.perf_counter() - t0
    opt = make_optimizer(model, param_groups(model, cfg.weight_decay), cfg.lr)
    order = np.random.default_rng(0).permutation(len(split.train_target))
    hist, lens, target = (torch.from_numpy(np.asarray(a)) for a in (split.train_hist, split.train_len, split.train_target))
    model.train()
    losses, t0 = [], time.perf_counter()
    for s in range(args.steps):
        idx = torch.from_numpy(order[s * args.batch_size : (s + 1) * args.batch_size])
        loss = model.loss(hist[idx], lens[idx], target[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    step_s = (time.perf_counter() - t0) / args.steps
    after = evaluate_model(model, split.val, split)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    st = split.stats()
    lines = [f"# Training and evaluating on the million-item catalogue (YouTubeDNN, sampled softmax + logQ, batch {args.batch_size})", "",
             "Command: `OMP_NUM_THREADS=1 EMBEDLAB_SCALE_DIR=/tmp/scale-data python bench/train_1m.py " + shlex.join(sys.argv[1:]) + "`  ",
             f"Machine: {machine_line()}; 1 thread; {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; 2 cores shared with other "
             f"developers' jobs. {args.note}", "",
             f"Split (synthetic-scale, seed 0): {st['items']:,} items after R1 filtering, {st['train_examples']:,} training examples, "
             f"{len(split.val):,} validation users evaluated (fixed sample). Item table sparse: {model.item_emb.sparse}.", "",
             "| what | value |", "|---|---:|",
             f"| load the cached split (memory-mapped) | {load_s:.1f} s |",
             f"| R1 evaluation of 2,000 validation users (exact faiss over all items, excluding history) | {eval_s:.1f} s |",
             f"| sampled-softmax training step (mean over {args.steps}) | {1e3 * step_s:.0f} ms |",
             f"| examples/s | {args.batch_size / step_s:,.0f} |",
             f"| one epoch at this rate | {len(split.train_target) / args.batch_size * step_s / 60:.0f} min |",
             f"| loss, first 20 steps -> last 20 steps | {np.mean(losses[:20]):.3f} -> {np.mean(losses[-20:]):.3f} |",
             f"| validation Recall@50 before -> after {args.steps} steps | {before['recall@50']:.4f} -> {after['recall@50']:.4f} |",
             f"| peak RSS | {rss:,.0f} MB |", "",
             f"Full softmax on this catalogue: {refusal}"]
    (HERE / "train_1m.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
