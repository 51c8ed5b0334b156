"""`python -m engine rank ...`: train one ranker under protocol R2, or benchmark them all.

    python -m engine rank train --model dien --dataset ml-100k --seed 0 --recall-run runs/recsys/mind-<hash>
    python -m engine rank bench --dataset ml-100k --seeds 0 1 2
"""
from __future__ import annotations

import argparse
import json

from engine.progress import terminal


def _config(args, **extra):
    from engine.rank.run import RankConfig

    fields = dict(dataset=getattr(args, "dataset", "synthetic"), maxlen=args.maxlen, dim=args.dim, cat_dim=args.cat_dim, act=args.act,
                  negatives=args.negatives, n_negatives=args.n_negatives, category_share=args.category_share, logq=args.logq, loss=args.loss, select=args.select, epochs=args.epochs, lr=args.lr,
                  batch_size=args.batch_size, patience=args.patience, weight_decay=args.weight_decay)
    return RankConfig(**{k: v for k, v in fields.items() if v is not None}, **extra)


def _train(args) -> int:
    from engine.rank.run import train

    extra = dict(model=args.model, seed=args.seed, recall_run=args.recall_run)
    if args.model == "dien":
        extra.update(evolution=args.evolution, aux_weight=args.aux_weight)
    run = train(_config(args, **extra), data_dir=args.data_dir, runs_root=args.runs_dir,
                progress=terminal if not args.quiet else (lambda f, m: None), out=args.out, threads=args.threads, force=args.force)
    print(json.dumps({"path": str(run.path), "metrics": run.metrics}, sort_keys=True))
    return 0


def _bench(args) -> int:
    from engine.rank.bench import run_bench

    base = _config(args)
    overrides = {k: getattr(base, k) for k in ("maxlen", "dim", "cat_dim", "act", "negatives", "n_negatives", "category_share", "logq", "loss", "select", "epochs", "lr",
                                               "batch_size", "patience", "weight_decay")
                 if getattr(args, k, None) is not None}
    for dataset in args.datasets:
        table = f"rank_{dataset.replace('-', '')}{args.table_suffix}"
        out = run_bench(dataset, args.seeds, args.bench_dir, args.data_dir, args.runs_dir, args.threads, overrides, table=table,
                        ablations=not args.no_ablations,
                        progress=terminal if not args.quiet else (lambda f, m: None))
        print(f"wrote {out}")
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data-dir", default=None, help="directory that holds ml-100k/ (default: $EMBEDLAB_DATA_DIR or ./data)")
    p.add_argument("--runs-dir", default=None, help="run store (default: $EMBEDLAB_RUNS_DIR or ./runs)")
    p.add_argument("--maxlen", type=int, default=None, help="history length (default 20)")
    p.add_argument("--dim", type=int, default=None, help="item id embedding size (default 32)")
    p.add_argument("--cat-dim", type=int, default=None, help="category embedding size (default 16)")
    p.add_argument("--act", choices=("prelu", "dice"), default=None, help="MLP activation (default prelu; dice: DIN eq. 9)")
    p.add_argument("--negatives", choices=("uniform", "popularity"), default=None, help="how training negatives are drawn")
    p.add_argument("--n-negatives", type=int, default=None, help="negatives per training example")
    p.add_argument("--select", choices=("ndcg", "auc"), default=None,
                   help="epoch selection on validation users: the ranker's NDCG@10 over all items (default) or AUC 1:1 (the papers')")
    p.add_argument("--logq", action="store_true", default=None,
                   help="softmax loss: subtract the negative sampler's log Q from every logit (sampled-softmax correction)")
    p.add_argument("--category-share", type=float, default=None,
                   help="chance that a training negative is drawn from the positive's own category (0: never)")
    p.add_argument("--loss", choices=("bce", "softmax"), default=None, help="target loss: bce (the papers') or softmax over positive + negatives")
    for name, typ, what in (("epochs", int, "maximum epochs"), ("lr", float, "Adam learning rate"),
                            ("batch-size", int, "training batch size"),
                            ("patience", int, "epochs without a better validation AUC before stopping"),
                            ("weight-decay", float, "Adam weight decay")):
        p.add_argument(f"--{name}", type=typ, default=None, help=f"{what} (default: the ranker default)")
    p.add_argument("--threads", type=int, default=1, help="torch/faiss threads (default 1)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def add_parser(sub: argparse._SubParsersAction) -> None:
    from engine.rank.dien import EVOLUTIONS
    from engine.rank.run import MODELS

    p = sub.add_parser("rank", help="rankers (BaseModel, DIN, DIEN) and two-stage recommendation (protocol R2)")
    rs = p.add_subparsers(dest="rank_cmd", required=True)
    t = rs.add_parser("train", help="train one ranker; writes config.json, model.pt, metrics.json")
    t.add_argument("--model", required=True, choices=tuple(MODELS))
    t.add_argument("--dataset", default="ml-100k", help="ml-100k, synthetic, or a path to a CSV/TSV log")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--recall-run", default=None, help="a recall run directory (python -m engine recsys train) for the two-stage metrics")
    t.add_argument("--evolution", choices=EVOLUTIONS, default="augru", help="DIEN's interest evolving layer")
    t.add_argument("--aux-weight", type=float, default=1.0, help="DIEN's auxiliary loss weight alpha (0: none)")
    t.add_argument("--out", default=None, help="run directory (default: the run store, keyed by the config hash)")
    t.add_argument("--force", action="store_true", help="retrain even if a stored run has this config")
    _common(t)
    t.set_defaults(func=_train)
    b = rs.add_parser("bench", help="BaseModel, DIN, DIEN and its ablations over seeds, behind four recall models")
    b.add_argument("--datasets", nargs="+", default=["ml-100k", "synthetic"])
    b.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    b.add_argument("--bench-dir", default="bench")
    b.add_argument("--no-ablations", action="store_true", help="BaseModel, DIN and DIEN only (a settings grid)")
    b.add_argument("--table-suffix", default="", help="appended to the table's file name (rank_<dataset><suffix>.md)")
    _common(b)
    b.set_defaults(func=_bench)
