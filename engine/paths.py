"""Where datasets and trained runs live: a flag, else an environment variable, else ./data and ./runs."""
from __future__ import annotations

import os
from pathlib import Path


def data_dir(override: str | os.PathLike | None = None) -> Path:
    """Root of the datasets (holds `ml-100k/`, `medmnist/`): `--data-dir`, `EMBEDLAB_DATA_DIR` or ./data."""
    return Path(override or os.environ.get("EMBEDLAB_DATA_DIR") or "data").expanduser()


def runs_dir(override: str | os.PathLike | None = None) -> Path:
    """Root of trained runs: `--runs-dir`, `EMBEDLAB_RUNS_DIR` or ./runs."""
    return Path(override or os.environ.get("EMBEDLAB_RUNS_DIR") or "runs").expanduser()


ASSETS_DIR = Path(__file__).resolve().parents[1] / "assets"  # the repository's assets/ (samples, i18n catalogues)
