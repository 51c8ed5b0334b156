"""Shared page helpers: the dataset chosen in the sidebar, progress bars, friendly errors.

Only drawing and glue: every number comes from `engine`.
"""
from __future__ import annotations

import contextlib
import json
from pathlib import Path
from dataclasses import dataclass
from typing import Iterator

import streamlit as st

from engine.errors import EmbedLabError
from pages.i18n import error_text, t

DATASET_KEY, SEED_KEY = "dataset", "seed"


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
RUN_KEY, USER_KEY, WATCHED_KEY = "run", "user", "_watched_jobs"
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


def session_id() -> str:
    """This session's id for the job runner (who may cancel a job); kept in session state, never a model."""
    import uuid

    return st.session_state.setdefault("_job_owner", uuid.uuid4().hex)


def _label_of(config) -> str:
    return t("jobs.default_label", model=MODEL_LABELS.get(config.model, config.model), dataset=config.dataset, seed=config.seed)


def submit_training(config, force: bool = False, label: str | None = None):
    """Start (or attach to) the training job of `config`; returns the job."""
    from engine import jobs

    return jobs.train_recsys(config, owner=session_id(), force=force, label=label or _label_of(config))


def _recall_done(label: str, result: dict) -> str:
    r = result.get("test/recall@50")
    return t("jobs.done", label=label, recall=f"{r:.3f}" if r is not None else "—")


def _draw_job(snap: dict, key: str, figure=None, done=None) -> None:
    """One job's progress: a bar, the live chart (`figure(history)`; default loss / validation Recall@50), a cancel
    button for its owner; when finished, `done(label, result)` (default: the recall sentence)."""
    from engine import jobs

    label, state = snap["label"], snap["state"]
    if state == "done":
        st.success((done or _recall_done)(label, snap.get("result") or {}), icon="✅")
        return
    if state == "failed":
        st.error(t("jobs.failed", label=label, error=error_text(snap["error"])), icon="⚠️")
        return
    if state == "cancelled":
        st.warning(t("jobs.cancelled", label=label), icon="⏹️")
        return
    text = t("jobs.queued", label=label) if state == "queued" else t("jobs.running", label=label, message=error_text(snap["message"]))
    st.progress(snap["fraction"], text=text)
    c1, c2 = st.columns([4, 1])
    others = max(0, snap["watchers"] - 1)
    c1.caption(t("jobs.shared", n=others, seconds=f"{snap['seconds']:.0f}") if others else t("jobs.alone", seconds=f"{snap['seconds']:.0f}"))
    if snap["owner"] == session_id():
        c2.button(t("jobs.cancel"), key=f"cancel-{key}", on_click=jobs.runner().cancel, args=(key, session_id()))
    if snap["history"]:
        fig = figure(snap["history"]) if figure else history_figure(snap["history"], t("jobs.live_title"))
        st.plotly_chart(fig, width="stretch", key=f"live-{key}")


def offer_retry(snap: dict, key: str, retry, button_key: str) -> None:
    """A failed or cancelled job that left no run: its sentence, a "Train it again" button calling `retry()`, and the
    page stops there."""
    _draw_job(snap, key)
    st.button(t("jobs.train_again"), key=button_key, type="primary", on_click=retry)
    st.stop()


def job_snapshot(key: str) -> dict | None:
    from engine import jobs

    job = jobs.runner().get(key)
    if job is None:
        return None
    job.seen_by(session_id())
    snap = job.snapshot()
    snap["result"] = job.result if isinstance(job.result, dict) else None
    return snap


def watch_jobs(keys: list[str], every: float = 2.0, figure=None, done=None) -> None:
    """Draw the jobs `keys`, redrawn every `every` s in a fragment (other widgets stay live); when none is queued or
    running any more, the whole page reruns once so it can use the new runs."""
    active = [k for k in keys if (s := job_snapshot(k)) is not None and s["state"] in ("queued", "running")]
    if not active:
        for k in keys:
            if (s := job_snapshot(k)) is not None:
                _draw_job(s, k, figure, done)
        return

    @st.fragment(run_every=every)
    def panel() -> None:
        snaps = {k: job_snapshot(k) for k in keys}
        if not any(s is not None and s["state"] in ("queued", "running") for s in snaps.values()):
            st.rerun()  # the whole page: it now finds the stored runs
        for k, s in snaps.items():
            if s is not None:
                with st.container(border=True):
                    _draw_job(s, k, figure, done)

    panel()


def run_for(config, label: str):
    """The stored run of `config` (loaded once per process), or None while it trains: then it is started (or
    joined) as a shared job whose progress is drawn here, and the page reruns when it is done."""
    from engine import store
    from engine.recsys.run import KIND

    path = store.run_path(KIND, config.model, config)
    if store.is_complete(path):
        with friendly_errors():
            return load_run_cached(str(path))
    drawn = {j.key for j in _active_jobs()}  # pick_run has drawn these on this run already
    job = submit_training(config, label=label)
    if job.key not in drawn:
        watch_jobs([job.key])
    return None


def _damaged_notice(path: str, why, config=None) -> None:
    """A damaged run: the sentence (an engine Message or error, in the session's language), and a retrain button when its config is known."""
    st.error(error_text(why), icon="⚠️")
    if config is not None:
        st.button(t("jobs.retrain"), key=f"retrain-{Path(path).name}", type="primary",
                  on_click=lambda: (load_run_cached.clear(), submit_training(config, force=True)))


def _config_of(path: Path):
    from engine.recsys.run import RecsysConfig

    try:
        return RecsysConfig.from_dict(json.loads((path / "config.json").read_text()))
    except Exception:  # noqa: BLE001 - a damaged config.json: no retrain button, the message says delete
        return None


def pick_run(models: tuple[str, ...], default_model: str = "mind", key: str = RUN_KEY, label: str | None = None):
    """A selectbox of the stored runs of the sidebar's dataset and seed (newest first) among `models`.

    When there is none, the small default `default_model` is trained as a shared job (every session asking for it
    attaches to the same one) and the page shows its progress, then reruns. Damaged runs get a message and a retrain
    button. Returns the loaded TrainedRun."""
    from engine import store
    from engine.recsys.run import KIND

    ch = choice()
    cfg = default_config(ch.dataset, ch.seed, default_model)
    default_path = store.run_path(KIND, cfg.model, cfg)
    key_ = store.config_hash(cfg)
    snap = job_snapshot(key_)  # before listing: a job seen done has published its run, so the listing has it
    runs = stored_runs(ch.dataset, ch.seed, models)
    for path, why in store.damaged_runs(KIND):
        c = _config_of(path)
        if c is not None and (j := job_snapshot(store.config_hash(c))) is not None and j["state"] in ("queued", "running"):
            continue  # being retrained: the job's panel shows it
        if path == default_path or (c is not None and c.dataset == ch.dataset and c.seed == ch.seed and c.model in models):
            _damaged_notice(str(path), why, c or (cfg if path == default_path else None))
    busy = [j.key for j in _active_jobs()]
    if not runs:
        if snap is None or snap["state"] == "done" and not default_path.exists():
            if default_path.exists():  # damaged: the notice above offers the retrain button
                st.stop()
            st.info(t("jobs.none_yet", models=" / ".join(MODEL_LABELS[m] for m in models)))
            submit_training(cfg)
        elif snap["state"] in ("failed", "cancelled"):
            offer_retry(snap, key_, lambda: submit_training(cfg), "train-again")
        else:
            st.info(t("jobs.none_yet", models=" / ".join(MODEL_LABELS[m] for m in models)))
        watch_jobs([key_])
        st.stop()
    if busy:
        watch_jobs(busy)
    by_path = {str(r["path"]): r for r in runs}
    first = next((i for i, r in enumerate(runs) if r["config"] == cfg),  # the page's default run (remedy on), else
                 next((i for i, r in enumerate(runs) if r["config"].model == default_model and not r["config"].paper_faithful),
                      next((i for i, r in enumerate(runs) if r["config"].model == default_model), 0)))  # the newest of the default model
    path = st.selectbox(label or t("common.trained_model"), list(by_path), index=first, format_func=lambda p: run_label(by_path[p]), key=key, bind="query-params",
                        help=t("common.trained_model_help"))
    with friendly_errors():
        try:
            with st.spinner(t("common.loading_model")):
                return load_run_cached(path)
        except store.DamagedRunError as e:
            _damaged_notice(path, e, by_path[path]["config"])
            st.stop()
        except (RuntimeError, KeyError) as e:  # weights that no longer fit the model's code
            st.error(t("common.run_does_not_fit", path=path, model=MODEL_LABELS.get(by_path[path]['config'].model),
                       details=str(e).splitlines()[0]), icon="⚠️")
            st.stop()


def _active_jobs():
    """Recall-training jobs this session started or waits for that are still queued or running (the /rank and X-ray
    pages draw their own kinds of job)."""
    from engine import jobs

    mine = set(st.session_state.get(WATCHED_KEY, ()))
    return [j for j in jobs.runner().active() if j.kind == "recsys" and (j.owner == session_id() or j.key in mine)]


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
