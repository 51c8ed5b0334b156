"""Shared page helpers: the dataset chosen in the sidebar, progress bars, friendly errors.

Only drawing and glue: every number comes from `engine`.
"""
from __future__ import annotations

import contextlib
from pathlib import Path
from dataclasses import dataclass
from typing import Iterator

import streamlit as st

from engine.errors import EmbedLabError
from engine.progress import Progress
from pages.i18n import error_text, t

DATASET_KEY, SEED_KEY = "dataset", "seed"


def _run_through_app() -> None:
    """Make a first visit straight to /routing (say) go through app.py's navigation and sidebar.

    Streamlit treats a `pages/` folder beside the entry script as a v1 multipage app until the
    entry script has called `st.navigation` once in the process; a fresh server's first visit to a
    sub-page would run that page alone, without app.py's sidebar. Clearing the flag and rerunning
    sends the same URL through app.py.
    """
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()


_run_through_app()


@dataclass(frozen=True)
class Choice:
    """What the sidebar selected: a dataset name (or CSV path) and the split seed."""

    dataset: str
    seed: int

    @property
    def label(self) -> str:
        return {"synthetic": t("common.synthetic"), "ml-100k": "MovieLens-100K"}.get(self.dataset, self.dataset)


def choice() -> Choice:
    """The sidebar's dataset and seed (app.py draws the widgets; defaults when run alone)."""
    return Choice(dataset=str(st.session_state.get(DATASET_KEY) or "synthetic"),
                  seed=int(st.session_state.get(SEED_KEY) or 0))


def st_progress(label: str) -> tuple[Progress, "st.delta_generator.DeltaGenerator"]:
    """An engine progress callback drawn as an st.progress bar; returns (callback, bar)."""
    bar = st.progress(0.0, text=label)

    def progress(fraction: float, message: str) -> None:
        bar.progress(min(1.0, max(0.0, float(fraction))), text=f"{label} — {error_text(message)}")  # translated when the engine sends a coded Message

    return progress, bar


@contextlib.contextmanager
def friendly_errors() -> Iterator[None]:
    """Show engine errors as sentences (st.error), never as tracebacks; the page then stops."""
    try:
        yield
    except EmbedLabError as e:
        st.error(error_text(e), icon="⚠️")
        st.stop()


# -- trained recall runs (the pages that need a model) ----------------------------------------
MODEL_LABELS = {"mostpop": "MostPopular", "youtubednn": "YouTubeDNN", "gru4rec": "GRU4Rec", "mind": "MIND",
                "comirec-dr": "ComiRec-DR", "comirec-sa": "ComiRec-SA"}
RUN_KEY, USER_KEY = "run", "user"
DEFAULT_EPOCHS = 15  # the small default model a page trains on a first visit (seconds on synthetic data)


def default_config(dataset: str, seed: int, model: str = "mind"):
    """The small default model a page trains when nothing is stored for the chosen dataset and seed."""
    from engine.recsys.run import RecsysConfig

    return RecsysConfig(model=model, dataset=dataset, seed=seed, epochs=DEFAULT_EPOCHS)


def stored_runs(dataset: str, seed: int | None, models: tuple[str, ...] | None = None) -> list[dict]:
    """Complete stored runs (app or CLI) of a dataset and split seed (None: any), newest first: {"path", "config", "metrics"}."""
    from engine.recsys.run import list_runs

    return [r for r in list_runs()
            if r["config"].dataset == dataset and (seed is None or r["config"].seed == seed) and (models is None or r["config"].model in models)]


@st.cache_resource(max_entries=8, show_spinner=False)  # the spinner is drawn by the caller, in the session's language
def load_run_cached(path: str):
    """A stored run (model in eval mode, its split) kept in memory across reruns and sessions."""
    from engine.recsys.run import load_run

    return load_run(path)


def run_label(entry: dict) -> str:
    """One line per run: model, the settings that differ most often, test Recall@50, and its hash."""
    c, m = entry["config"], entry["metrics"]
    multi = c.model in ("mind", "comirec-dr", "comirec-sa")
    parts = [MODEL_LABELS.get(c.model, c.model), f"d={c.dim}", f"L={c.maxlen}"]
    if multi:
        parts.append(f"K={c.k}")
    if c.model in ("mind", "comirec-dr"):
        parts.append(f"r={c.iterations}")
    parts.append(f"R@50 {m.get('test/recall@50', float('nan')):.3f}")
    return " · ".join(parts) + f" · {Path(entry['path']).name.rsplit('-', 1)[-1][:6]}"


def history_figure(history: list[dict], title: str):
    """Loss (left axis) and validation Recall@50 (right axis) per epoch, as a plotly figure."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    ep = [h["epoch"] for h in history]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=ep, y=[h["loss"] for h in history], mode="lines+markers", name=t("common.training_loss")), secondary_y=False)
    fig.add_trace(go.Scatter(x=ep, y=[h["val/recall@50"] for h in history], mode="lines+markers", name=t("common.val_recall50")), secondary_y=True)
    fig.update_layout(title=title, height=300, margin=dict(t=40, b=10), legend=dict(orientation="h", y=-0.3))
    fig.update_xaxes(title_text=t("common.epoch"))
    fig.update_yaxes(title_text=t("common.loss"), secondary_y=False)
    fig.update_yaxes(title_text="Recall@50", secondary_y=True, rangemode="tozero")
    return fig


def train_in_status(config, label: str | None = None):
    """Train (or reuse) `config` inside st.status: a progress bar and a live loss / val Recall@50 chart per epoch."""
    from engine.recsys.run import train

    label = label or t("common.training_default", model=MODEL_LABELS.get(config.model, config.model), dataset=config.dataset, seed=config.seed)
    with st.status(label, expanded=True) as status:
        progress, _ = st_progress(t("common.epochs"))
        chart = st.empty()

        def live(history: list[dict]) -> None:
            chart.plotly_chart(history_figure(history, t("common.live_title")), width="stretch",
                               key=f"live-{label}-{len(history)}")

        with friendly_errors():
            run = train(config, progress=progress, on_epoch=live)
        status.update(label=t("common.training_done", label=label, recall=f"{run.metrics['test/recall@50']:.3f}"), state="complete", expanded=False)
    return run


def run_for(config, label: str):
    """The stored run of `config` (loaded once per process), trained first with progress when it is missing."""
    from engine import store
    from engine.recsys.run import KIND

    path = store.run_path(KIND, config.model, config)
    if not store.is_complete(path):
        train_in_status(config, label)
    with friendly_errors():
        return load_run_cached(str(path))


def pick_run(models: tuple[str, ...], default_model: str = "mind", key: str = RUN_KEY, label: str | None = None):
    """A selectbox of the stored runs of the sidebar's dataset and seed (newest first) among `models`;
    trains the small default `default_model` first when there is none. Returns the loaded TrainedRun."""
    ch = choice()
    runs = stored_runs(ch.dataset, ch.seed, models)
    if not runs:
        st.info(t("common.no_run_training", models=' / '.join(MODEL_LABELS[m] for m in models)))
        train_in_status(default_config(ch.dataset, ch.seed, default_model))
        runs = stored_runs(ch.dataset, ch.seed, models)
        if not runs:
            st.error(t("common.no_run_after_training"))
            st.stop()
    by_path = {str(r["path"]): r for r in runs}
    first = next((i for i, r in enumerate(runs) if r["config"].model == default_model), 0)  # newest of the default model
    path = st.selectbox(label or t("common.trained_model"), list(by_path), index=first, format_func=lambda p: run_label(by_path[p]), key=key, bind="query-params",
                        help=t("common.trained_model_help"))
    with friendly_errors():
        try:
            with st.spinner(t("common.loading_model")):
                return load_run_cached(path)
        except (RuntimeError, KeyError) as e:  # weights that no longer fit the model's code
            st.error(t("common.run_does_not_fit", path=path, model=MODEL_LABELS.get(by_path[path]['config'].model),
                       details=str(e).splitlines()[0]), icon="⚠️")
            st.stop()


def user_picker(evalset, key: str = USER_KEY, label: str | None = None) -> int:
    """Pick an evaluation user by raw id, showing history length; returns the row in `evalset`."""
    rows = list(range(len(evalset)))
    return st.selectbox(label or t("common.test_user"), rows, key=key, bind="query-params",
                        format_func={r: t("common.user_option", user=int(evalset.users[r]), n=int(evalset.lens[r]), held=len(evalset.targets[r])) for r in rows}.get,
                        help=t("common.test_user_help"))


def item_picker(split, label: str, key: str | None = None, options=None, index: int = 0, bind: bool = True) -> int:
    """Pick an item by title (type to search); returns its item index."""
    opts = list(range(1, split.n_items + 1)) if options is None else [int(o) for o in options]
    return st.selectbox(label, opts, index=min(index, len(opts) - 1), key=key, bind="query-params" if (bind and key) else None,
                        format_func=lambda i: split.item_titles[i])


def has_titles(split) -> bool:
    """False when the dataset gave no titles (R1 then names items by raw id)."""
    return any(t != str(r) for t, r in zip(split.item_titles[1:50], split.item_raw_ids[1:50]))


def group_of(split):
    """(group index per item [I+1], group names, what a group is called): planted topic on synthetic data, else category."""
    if split.item_topic is not None and split.topic_names:
        return split.item_topic, list(split.topic_names), t("common.planted_topic")
    return split.item_category, list(split.category_names), t("common.genre") if split.dataset == "ml-100k" else t("common.category")
