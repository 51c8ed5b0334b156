"""`python -m engine recsys ...`: train one recall model under protocol R1, or benchmark them all.

    python -m engine recsys train --model mind --dataset ml-100k --data-dir D --seed 0 --out DIR
    python -m engine recsys bench --dataset ml-100k --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import json
import sys

from engine.progress import terminal


def _add_config_args(p: argparse.ArgumentParser) -> None:
    from engine.recsys.run import MODELS

    p.add_argument("--dataset", default="ml-100k", help="ml-100k, synthetic, synthetic-scale (1M items; --syn-* resize it), or a path to a CSV/TSV log (user, item, timestamp)")
    p.add_argument("--data-dir", default=None, help="directory that holds ml-100k/ (default: $EMBEDLAB_DATA_DIR or ./data)")
    p.add_argument("--runs-dir", default=None, help="where runs are stored without --out (default: $EMBEDLAB_RUNS_DIR or ./runs)")
    p.add_argument("--maxlen", type=int, default=20, help="history length (default 20)")
    p.add_argument("--dim", type=int, default=64, help="embedding size d (default 64)")
    p.add_argument("--k", type=int, default=4, help="interests K of multi-interest models (default 4)")
    p.add_argument("--iterations", type=int, default=3, help="routing iterations (default 3)")
    p.add_argument("--loss", choices=("softmax", "sampled"), default="softmax", help="full softmax or sampled softmax with logQ correction")
    p.add_argument("--n-negatives", type=int, default=256, help="popularity-sampled negatives for --loss sampled")
    p.add_argument("--readout", choices=("last", "mean"), default="last", help="GRU4Rec readout")
    p.add_argument("--no-mask-history", action="store_true", help="keep history items as classes of the training softmax")
    for name, typ, what in (
        ("epochs", int, "maximum epochs"),
        ("lr", float, "Adam learning rate"),
        ("batch-size", int, "training batch size"),
        ("patience", int, "epochs without a better validation Recall@50 before stopping"),
        ("dropout", float, "dropout on behaviour embeddings"),
        ("weight-decay", float, "Adam weight decay"),
        ("p", float, "MIND label-aware attention power"),
        ("interest-reg", float, "interest-collapse remedy: weight of the interests' squared-cosine penalty"),
        ("couple-temp", float, "interest-collapse remedy: temperature of the last routing iteration (MIND, ComiRec-DR)"),
    ):
        p.add_argument(f"--{name}", type=typ, default=None, help=f"{what} (default: the model's)")
    p.add_argument("--paper-faithful", action="store_true",
                   help="multi-interest models as the paper writes them, without the interest-collapse remedy")
    p.add_argument("--syn-users", type=int, default=None, help="synthetic: number of users")
    p.add_argument("--syn-items", type=int, default=None, help="synthetic: number of items")
    p.add_argument("--syn-topics", type=int, default=None, help="synthetic: number of planted topics")
    p.add_argument("--syn-noise", type=float, default=None, help="synthetic: share of random steps (lower: better-separated topics)")
    p.add_argument("--syn-switch", type=float, default=None, help="synthetic: chance to switch interest at each step")
    p.add_argument("--syn-order", type=float, default=None, help="synthetic: chance that a step inside a topic follows its chain (0: topics are bags of items)")
    p.add_argument("--syn-min-len", type=int, default=None, help="synthetic: shortest sequence")
    p.add_argument("--syn-max-len", type=int, default=None, help="synthetic: longest sequence")
    p.add_argument("--syn-seed", type=int, default=None, help="synthetic: generator seed")
    p.add_argument("--threads", type=int, default=None, help="torch/faiss threads (default: $EMBEDLAB_THREADS or 2)")
    p.set_defaults(models=tuple(MODELS))


def synthetic_from_args(args):
    """The SyntheticConfig the --syn-* flags describe (None unless --dataset synthetic); shared with `recsys bench`."""
    from engine.data.synthetic import SyntheticConfig

    if args.dataset not in ("synthetic", "synthetic-scale"):
        return None
    changes = {
        k: v
        for k, v in dict(
            n_users=args.syn_users, n_items=args.syn_items, n_topics=args.syn_topics, noise=args.syn_noise, switch=args.syn_switch,
            order=args.syn_order, min_len=args.syn_min_len, max_len=args.syn_max_len, seed=args.syn_seed,
        ).items()
        if v is not None
    }
    if args.dataset == "synthetic-scale":  # the million-item catalogue, engine/data/scale.py
        from dataclasses import replace

        from engine.data.scale import SCALE_DEFAULT

        return replace(SCALE_DEFAULT, **changes)
    return SyntheticConfig(**changes)


def config_from_args(args, model: str | None = None, seed: int | None = None):
    from engine.recsys.run import RecsysConfig

    return RecsysConfig(
        model=model or args.model,
        dataset=args.dataset,
        synthetic=synthetic_from_args(args),
        seed=args.seed if seed is None else seed,
        maxlen=args.maxlen,
        dim=args.dim,
        k=args.k,
        iterations=args.iterations,
        loss=args.loss,
        n_negatives=args.n_negatives,
        readout=args.readout,
        mask_history=not args.no_mask_history,
        epochs=args.epochs,
        lr=args.lr,
        batch_size=args.batch_size,
        patience=args.patience,
        dropout=args.dropout,
        weight_decay=args.weight_decay,
        p=args.p,
        interest_reg=args.interest_reg,
        couple_temp=args.couple_temp,
        paper_faithful=args.paper_faithful,
    )


def _train(args) -> int:
    from engine.recsys.run import train

    from engine.recsys import distributed

    config = config_from_args(args)
    ctx = distributed.init() if args.distributed else None
    try:
        run = train(
            config,
            data_dir=args.data_dir,
            runs_root=args.runs_dir,
            progress=terminal if not args.quiet and distributed.is_main(ctx) else (lambda f, m: None),
            out=args.out,
            threads=args.threads,
            force=args.force,
        )
    finally:
        distributed.cleanup()
    if distributed.is_main(ctx):
        print(json.dumps({"path": str(run.path), "metrics": run.metrics}, sort_keys=True))
    return 0


def _bench(args) -> int:
    from engine.recsys.bench import run_bench

    run_bench(args)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    from engine.recsys.run import MODELS

    p = sub.add_parser("recsys", help="sequence recall models (protocol R1)")
    rs = p.add_subparsers(dest="recsys_cmd", required=True)

    t = rs.add_parser("train", help="train one model under R1; writes config.json, model.pt, metrics.json, test_embeddings.npz")
    t.add_argument("--model", required=True, choices=tuple(MODELS))
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--out", default=None, help="run directory (default: the run store, keyed by the config hash)")
    t.add_argument("--force", action="store_true", help="retrain even if a complete run with this config exists")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--distributed", action="store_true",
                   help="data-parallel under torchrun (DDP, gloo backend): torchrun --nproc-per-node 2 -m engine recsys train ... --distributed")
    _add_config_args(t)
    t.set_defaults(func=_train)

    b = rs.add_parser("bench", help="train every model over seeds; write a mean ± std table under bench/")
    b.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    b.add_argument("--models", nargs="+", choices=tuple(MODELS), default=list(MODELS))
    b.add_argument("--bench-dir", default="bench", help="where the table goes (default bench/)")
    b.add_argument("--jobs", type=int, default=1, help="training processes at a time, sharing --threads (s/epoch is then timed alone after)")
    b.add_argument("--table", default=None, help="file name of the table without .md (default recsys_<dataset>)")
    b.add_argument("--split", choices=("test", "val"), default="test",
                   help="which users the table reports: test (default), or validation to reproduce a hyperparameter choice")
    b.add_argument("--reuse", action="store_true", help="reuse stored runs instead of retraining (timings then come from those runs)")
    _add_config_args(b)
    b.set_defaults(func=_bench)



if __name__ == "__main__":  # pragma: no cover
    from engine.__main__ import main

    sys.exit(main(["recsys", *sys.argv[1:]]))
