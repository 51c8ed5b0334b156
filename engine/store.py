"""Run directories: config.json, model.pt (a state_dict), metrics.json, history.json, extra arrays.

A run is keyed by a hash of its config, so the app, the CLI and the benchmarks reuse each other's runs.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch

from engine.paths import runs_dir


def config_dict(config: Any) -> dict:
    """A plain JSON-able dict of a (frozen dataclass) config."""
    d = dataclasses.asdict(config) if dataclasses.is_dataclass(config) else dict(config)
    return json.loads(json.dumps(d, sort_keys=True, default=str))


def config_hash(config: Any) -> str:
    """Stable 12-hex-digit key of a config (sorted JSON, sha1)."""
    blob = json.dumps(config_dict(config), sort_keys=True).encode()
    return hashlib.sha1(blob).hexdigest()[:12]


def run_path(kind: str, name: str, config: Any, root: str | os.PathLike | None = None) -> Path:
    """Where the run of `config` lives: <runs>/<kind>/<name>-<hash>."""
    return runs_dir(root) / kind / f"{name}-{config_hash(config)}"


def _atomic_write(path: Path, text: str) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def save_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    _atomic_write(path, json.dumps(obj, indent=2, sort_keys=True, default=float))


def load_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def save_state(path: Path, state_dict: dict[str, torch.Tensor]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save(state_dict, tmp)
    os.replace(tmp, path)


def load_state(path: Path) -> dict[str, torch.Tensor]:
    """Load a state_dict safely (tensors only, no pickled code)."""
    return torch.load(path, map_location="cpu", weights_only=True)


def is_complete(run: Path) -> bool:
    """A run is usable once its model and metrics are both written (metrics last)."""
    return (run / "model.pt").exists() and (run / "metrics.json").exists() and (run / "config.json").exists()


def list_runs(kind: str, root: str | os.PathLike | None = None) -> list[Path]:
    """Completed runs of a kind, newest first."""
    base = runs_dir(root) / kind
    if not base.exists():
        return []
    runs = [p for p in base.iterdir() if p.is_dir() and is_complete(p)]
    return sorted(runs, key=lambda p: (p / "metrics.json").stat().st_mtime, reverse=True)
