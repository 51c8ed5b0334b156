"""Fingerprint of what training computes: each model trained `--epochs` epochs (ml-100k R1, seed 0, its
default config, 1 thread) with the real trainer, and a SHA-256 of its state_dict, the losses and the
validation Recall@50. Run it on two commits: a speed change that alters no number leaves every line
the same (bench/profile_recsys.md, "Reading", was checked this way against main 5955cc9).

    OMP_NUM_THREADS=1 python bench/state_hash.py --epochs 2 > /tmp/after.txt
"""
from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.recsys.run import RecsysConfig, build_model, fit, split_of  # noqa: E402
from engine.threads import set_threads  # noqa: E402

MODELS = ["youtubednn", "gru4rec", "mind", "comirec-dr", "comirec-sa"]


def fingerprint(model_name: str, epochs: int, seed: int = 0) -> dict:
    config = RecsysConfig(model=model_name, dataset="ml-100k", seed=seed).replace(epochs=epochs)
    split = split_of(config)
    torch.manual_seed(config.seed)
    model = build_model(config, split)
    history = fit(model, split, config)
    h = hashlib.sha256()
    for k, v in sorted(model.state_dict().items()):
        h.update(k.encode())
        h.update(v.detach().contiguous().numpy().tobytes())
    return {"model": model_name, "sha256": h.hexdigest()[:16], "loss": [r["loss"] for r in history], "val_recall@50": [r["val/recall@50"] for r in history]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    ap.add_argument("--epochs", type=int, default=2)
    a = ap.parse_args(argv)
    set_threads(1)
    for m in a.models:
        print(fingerprint(m, a.epochs), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
