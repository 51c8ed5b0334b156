"""`python -m engine xray train ...` and `python -m engine xray predict IMAGE... --run DIR` (protocol X1)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import ConfigError
from engine.progress import terminal

if TYPE_CHECKING:
    from engine.vision.train import XrayConfig


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("xray", help="chest X-ray classifier (PneumoniaMNIST, protocol X1)")
    xsub = p.add_subparsers(dest="command", required=True)

    t = xsub.add_parser("train", help="train one strategy and write a run directory")
    t.add_argument("--strategy", choices=["linear-probe", "partial", "full", "scratch"], default="linear-probe")
    t.add_argument("--preset", choices=["best"], default=None,
                   help="best: the val-chosen recipe of bench/xray/best.md (an ensemble of 3 scratch CNNs with "
                        "test-time augmentation; seed S trains members 3S, 3S+1, 3S+2); overrides --strategy")
    t.add_argument("--data-dir", default=None, help="folder holding medmnist/ (default: $EMBEDLAB_DATA_DIR or ./data)")
    t.add_argument("--data", default=None, help="a local .npz (no md5 check) or a Kermany-layout folder instead")
    t.add_argument("--size", type=int, default=28, choices=[28, 64, 128, 224],
                   help="PneumoniaMNIST file to use (X1 and the benchmark: 28)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--epochs", type=int, default=0, help="0 = the strategy's default")
    t.add_argument("--input-size", type=int, default=0, help="EfficientNet input size in px (0 = default)")
    t.add_argument("--subset", type=int, default=0, help="train on only this many training images (quick checks; val and test stay whole)")
    t.add_argument("--fraction", type=float, default=1.0,
                   help="train on this class-stratified share of the training images, fixed by the seed (0 < f <= 1)")
    t.add_argument("--threads", type=int, default=2)
    t.add_argument("--out", required=True, help="run directory to write")
    t.set_defaults(func=_train)

    q = xsub.add_parser("predict", help="one JSON line per image, in input order")
    q.add_argument("images", nargs="+")
    q.add_argument("--run", required=True, help="a run directory written by `xray train`")
    q.set_defaults(func=_predict)


def _train(a: argparse.Namespace) -> int:
    from engine.vision.train import XrayConfig, save_run, train

    if not 0.0 < a.fraction <= 1.0:
        raise ConfigError(f"--fraction must be in (0, 1], not {a.fraction}.")
    kw = {"input_size": a.input_size} if a.input_size else {}
    cfg = XrayConfig(strategy=a.strategy, seed=a.seed, epochs=a.epochs, train_subset=a.subset, threads=a.threads,
                     data_size=a.size, train_fraction=a.fraction, **kw)
    if a.preset == "best":
        return _train_best(a, cfg)
    result = train(cfg, progress=terminal, data_path=a.data, data_root=a.data_dir)
    out = save_run(result, Path(a.out))
    for w in result.evaluation["data_warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    m = result.metrics
    print(json.dumps({"run": str(out), "test/auc": round(m["test/auc"], 4), "test/acc": round(m["test/acc"], 4),
                      "train_seconds": round(m["train_seconds"], 1)}))
    return 0


def _train_best(a: argparse.Namespace, member: XrayConfig) -> int:
    from engine.vision.best_preset import save_best, train_best

    result = train_best(a.seed, member=member, progress=terminal, data_path=a.data, data_root=a.data_dir)
    out = save_best(result, Path(a.out))
    for w in result.evaluation["data_warnings"]:
        print(f"warning: {w}", file=sys.stderr)
    m = result.metrics
    print(json.dumps({"run": str(out), "preset": "best", "test/auc": round(m["test/auc"], 4),
                      "test/acc": round(m["test/acc"], 4), "train_seconds": round(m["train_seconds"], 1)}))
    return 0


def _predict(a: argparse.Namespace) -> int:
    from engine.vision.explain import XrayExplainer

    run = Path(a.run)
    if not (run / "model.pt").exists() or not (run / "embeddings.npz").exists():
        raise ConfigError(f"{run} is not a finished X-ray run; train one with `python -m engine xray train --out {run}`.")
    explainer = XrayExplainer(run)
    for name in a.images:
        out = explainer.analyse_safely(name, name, keep_steps=False)
        print(json.dumps({"file": name, "error": out} if isinstance(out, str) else out.as_json()), flush=True)
    return 0
