"""Shared page helpers: the dataset chosen in the sidebar, progress bars, friendly errors.

Only drawing and glue: every number comes from `engine`.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Iterator

import streamlit as st

from engine.data.synthetic import SyntheticConfig
from engine.errors import EmbedLabError
from engine.progress import Progress

DATASET_KEY, SEED_KEY = "dataset", "seed"


@dataclass(frozen=True)
class Choice:
    """What the sidebar selected: a dataset name (or CSV path) and the split seed."""

    dataset: str
    seed: int

    @property
    def label(self) -> str:
        return {"synthetic": "Synthetic (planted interests)", "ml-100k": "MovieLens-100K"}.get(self.dataset, self.dataset)


def choice() -> Choice:
    """The sidebar's dataset and seed (app.py draws the widgets; defaults when run alone)."""
    return Choice(dataset=str(st.session_state.get(DATASET_KEY) or "synthetic"),
                  seed=int(st.session_state.get(SEED_KEY) or 0))


@st.cache_resource(show_spinner="Loading dataset and building the R1 split…")
def split_for(dataset: str, seed: int, maxlen: int = 20):
    """The R1 split of a dataset (cached across reruns and sessions)."""
    from engine.data.datasets import load_dataset
    from engine.data.r1 import make_r1

    return make_r1(load_dataset(dataset, synthetic_config=SyntheticConfig()), seed, maxlen)


def st_progress(label: str) -> tuple[Progress, "st.delta_generator.DeltaGenerator"]:
    """An engine progress callback drawn as an st.progress bar; returns (callback, bar)."""
    bar = st.progress(0.0, text=label)

    def progress(fraction: float, message: str) -> None:
        bar.progress(min(1.0, max(0.0, float(fraction))), text=f"{label} — {message}")

    return progress, bar


@contextlib.contextmanager
def friendly_errors() -> Iterator[None]:
    """Show engine errors as sentences (st.error), never as tracebacks; the page then stops."""
    try:
        yield
    except EmbedLabError as e:
        st.error(str(e), icon="⚠️")
        st.stop()
