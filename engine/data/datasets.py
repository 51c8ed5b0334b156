"""Dataset names the app and the CLI accept: "synthetic", "ml-100k", or a path to a CSV/TSV log."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from engine.data import csvlog, movielens, synthetic
from engine.data.interactions import Interactions
from engine.paths import data_dir as resolve_data_dir

BUILTIN = ("synthetic", "ml-100k")


def load_dataset(
    name: str,
    data_dir: str | Path | None = None,
    synthetic_config: synthetic.SyntheticConfig | None = None,
    fetch: bool = True,
) -> Interactions:
    """Load a dataset by name; cached per (name, data directory, synthetic config)."""
    root = str(resolve_data_dir(data_dir).resolve()) if name == "ml-100k" else ""
    return _load(name, root, synthetic_config or synthetic.SyntheticConfig(), fetch)


@lru_cache(maxsize=8)
def _load(name: str, root: str, syn: synthetic.SyntheticConfig, fetch: bool) -> Interactions:
    if name == "synthetic":
        return synthetic.generate(syn)
    if name == "ml-100k":
        return movielens.load(root, fetch=fetch)
    return csvlog.load_csv(name)


def available(data_dir: str | Path | None = None) -> dict[str, bool]:
    """Which built-in datasets are usable now without a download."""
    return {"synthetic": True, "ml-100k": movielens.is_available(data_dir)}
