"""Chest X-ray: PneumoniaMNIST (protocol X1) with an EfficientNet-Lite0 backbone. Draws and calls engine only."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from engine.data.medmnist import CLASSES, XrayData, load_pneumoniamnist
from engine.errors import EmbedLabError
from engine.paths import ASSETS_DIR
from engine.store import load_json
from engine.vision.benchmark import PRESET_LABEL, STRATEGY_LABELS, comparison_rows, on_whole_training_set, one_run_per_strategy, run_rows
from engine.vision.best_preset import list_presets, load_members, preset_view
from engine.vision.explain import Analysis, CamView, XrayExplainer, cam_view, embedding_maps, overlay
from engine.vision.gradcam import CAM_LAYERS, DEFAULT_CAM_LAYER
from engine.vision.metrics import threshold_report, youden_threshold
from engine.vision.train import XrayConfig, list_xray_runs, load_config, load_model, load_predictions
from engine import jobs
from pages.common import session_id, watch_jobs
import pages.xray_curve
from pages.i18n import error_text, t

SAMPLES = ASSETS_DIR / "xray-samples"
COLORS = {"normal": "#1f77b4", "pneumonia": "#d62728"}
JOBS_KEY = "xray_jobs"  # this session's X-ray training jobs (keys only: the job lives in the runner)


# --- cached loaders (engine does the work) -----------------------------------------------------------------------
@st.cache_data(show_spinner=t("xray.loading_data"))
def load_data() -> XrayData:
    return load_pneumoniamnist()


@st.cache_resource(max_entries=4, show_spinner=t("common.loading_model"))
def load_explainer(run: str, stamp: float) -> XrayExplainer:  # noqa: ARG001 (stamp: retrain invalidates)
    return XrayExplainer(run, train_labels=load_data().labels["train"])


@st.cache_resource(max_entries=8, show_spinner=t("common.loading_model"))
def load_run_model(run: str, stamp: float):  # noqa: ARG001, ANN201 (the side-by-side view needs only the model)
    return load_model(Path(run)), load_config(Path(run))


@st.cache_resource(max_entries=2, show_spinner=t("common.loading_model"))
def load_preset_members(run: str, stamp: float):  # noqa: ARG001, ANN201
    return load_members(run)


@st.cache_data(max_entries=8)
def load_run_files(run: str, stamp: float) -> dict:  # noqa: ARG001
    p = Path(run)
    preds = pd.read_csv(p / "test_predictions.csv")
    return {"metrics": load_json(p / "metrics.json"), "history": load_json(p / "history.json"),
            "evaluation": load_json(p / "evaluation.json"), "probability": preds["probability"].to_numpy(),
            "index": preds["index"].to_numpy(), "val": load_predictions(p, "val")}


@st.cache_data(max_entries=4, show_spinner=t("xray.computing_tsne"))
def load_maps(run: str, stamp: float) -> dict[str, np.ndarray]:  # noqa: ARG001
    return embedding_maps(run)


def stamp(run: Path) -> float:
    return (run / "metrics.json").stat().st_mtime


def follow(job) -> None:  # noqa: ANN001 (an engine.jobs.Job)
    """Watch `job` in this session (its key only: the job itself lives in the runner)."""
    keys = st.session_state.setdefault(JOBS_KEY, [])
    if job.key not in keys:
        keys.append(job.key)


def strategy_label(strategy: str) -> str:
    """The engine's strategy name in the session's language (engine.vision.benchmark.STRATEGY_LABELS in English)."""
    return t("xray.strategy_" + strategy.replace("-", "_"))


def class_label(name: str) -> str:
    return t("xray.class_" + name)


def run_label(r: dict) -> str:
    c, m = r["config"], r["metrics"]
    sub = t("xray.subset", n=c.train_subset) if c.train_subset else ""
    return t("xray.run_label", strategy=strategy_label(c.strategy), seed=c.seed, sub=sub, auc=f"{m['test/auc']:.3f}",
             acc=f"{m['test/acc']:.3f}", run=Path(r['path']).name.rsplit('-', 1)[-1][:6])


def curves(history: list[dict]) -> go.Figure:
    df = pd.DataFrame(history)
    fig = go.Figure()
    for col, name in (("train_loss", t("xray.train_loss")), ("val_loss", t("xray.val_loss")), ("val_auc", t("xray.val_auc"))):
        if col in df:
            fig.add_trace(go.Scatter(x=df["epoch"], y=df[col], mode="lines+markers", name=name))
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10), xaxis_title=t("common.epoch"), title=t("xray.curves"))
    return fig


def set_threshold(value: float) -> None:
    st.session_state["xray_threshold"] = value


def method_label(r: dict) -> str:
    """A comparison row's name: a stored run (strategy, seed, subset) or a published method."""
    if r["strategy"] is None:
        return t("xray.published_method", method=r["method"])
    sub = t("xray.subset", n=r["train images"]) if r["train images"] else ""
    return t("xray.run_method", strategy=strategy_label(r["strategy"]), seed=r["seed"], sub=sub)


def comparison_chart(rows: list[dict]) -> go.Figure:
    """Every stored run's val and test AUC / ACC beside the published test numbers."""
    long = []
    for r in rows:
        name = method_label(r)
        for metric in ("AUC", "ACC"):
            if r["strategy"] is None:
                long.append({"method": name, "metric": metric, "split": t("xray.split_published"), "value": r[metric]})
            else:
                long.append({"method": name, "metric": metric, "split": t("xray.split_val"), "value": r["val " + metric]})
                long.append({"method": name, "metric": metric, "split": t("xray.split_test"), "value": r[metric]})
    d = pd.DataFrame(long).dropna(subset=["value"])
    fig = px.scatter(d, x="value", y="method", color="split", symbol="split", facet_col="metric",
                     color_discrete_sequence=["#2ca02c", "#d62728", "#7f7f7f"], title=t("xray.comparison_title"))
    fig.update_traces(marker=dict(size=10)).update_xaxes(matches=None, title=None).update_yaxes(title=None)
    fig.for_each_annotation(lambda a: a.update(text=a.text.split("=")[-1]))
    return fig.update_layout(height=120 + 28 * d["method"].nunique(), legend_title_text="", margin=dict(l=10, r=10, t=60, b=10))


def run_table(rows: list[dict]) -> pd.DataFrame:
    d = pd.DataFrame([r for r in rows if r["strategy"] is not None])
    d["method"] = [method_label(r) for r in rows if r["strategy"] is not None]
    cols = {"method": t("xray.col_method"), "px": t("xray.col_px"), "val AUC": t("xray.col_val_auc"), "val ACC": t("xray.col_val_acc"),
            "AUC": t("xray.col_test_auc"), "ACC": t("xray.col_test_acc"), "sensitivity": t("xray.sensitivity"),
            "specificity": t("xray.specificity"), "train s": t("xray.train_seconds")}
    return d[list(cols)].rename(columns=cols).round(4)


def cam_caption(layer: str, grid: tuple[int, int], size: int) -> str:
    """What the overlay is made of: which layer, how coarse its map, how many image pixels one cell covers."""
    return t("xray.cam_resolution", layer=t("xray.cam_layer_" + layer), h=grid[0], w=grid[1], size=size,
             px=f"{size / grid[0]:.1f}")


# --- page ----------------------------------------------------------------------------------------------------------
st.title("🩻 " + t("xray.title"))
st.caption(t("xray.intro"))

try:
    data = load_data()
except EmbedLabError as e:
    st.error(error_text(e), icon="⚠️")
    st.stop()

tab_data, tab_train, tab_try = st.tabs([t("xray.tab_data"), t("xray.tab_train"), t("xray.tab_try")])

with tab_data:
    counts = data.counts()
    split_names = {s: t(f"xray.split_{s}") for s in ("train", "val", "test")}
    df = pd.DataFrame([{t("xray.col_split"): split_names[s], t("xray.col_class"): class_label(c), t("xray.col_images"): n}
                       for s, cs in counts.items() for c, n in cs.items()])
    c1, c2 = st.columns([1, 2])
    with c1:
        st.dataframe(df.pivot(index=t("xray.col_split"), columns=t("xray.col_class"), values=t("xray.col_images")).loc[list(split_names.values())])
        for w in data.warnings:
            st.caption("ℹ️ " + error_text(w))
    with c2:
        st.plotly_chart(px.bar(df, x=t("xray.col_split"), y=t("xray.col_images"), color=t("xray.col_class"), barmode="group",
                               color_discrete_map={class_label(c): v for c, v in COLORS.items()},
                               title=t("xray.balance")).update_layout(height=300), key="xray_balance")
    grid = data.images["train"]
    rng = np.random.default_rng(0)
    picks = [i for c in (0, 1) for i in rng.choice(np.flatnonzero(data.labels["train"] == c), 8, replace=False)]
    fig = px.imshow(np.stack([grid[i] for i in picks]), facet_col=0, facet_col_wrap=8, binary_string=True,
                    title=t("xray.samples_title"))
    fig.for_each_annotation(lambda a: a.update(text=""))
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    st.plotly_chart(fig.update_layout(height=330, margin=dict(l=0, r=0, t=40, b=0)), key="xray_grid")

runs = list_xray_runs()

with tab_train:
    st.subheader(t("xray.fine_tune"))
    c1, c2, c3 = st.columns(3)
    strategy = c1.selectbox(t("xray.strategy"), list(STRATEGY_LABELS), format_func={k: strategy_label(k) for k in STRATEGY_LABELS}.get, key="xray_strategy",
                            help=t("xray.strategy_help"))
    seed = int(c2.number_input(t("xray.seed"), 0, 99, 0, key="xray_seed"))
    epochs = int(c3.number_input(t("xray.epochs"), 0, 60, 0, key="xray_epochs",
                                 help=t("xray.epochs_help")))
    b1, b2 = st.columns([1, 2])
    train_clicked = b1.button(t("xray.train"), type="primary", key="xray_train")
    preset_clicked = b2.button(t("xray.train_preset", seed=seed), key="xray_train_preset", help=t("xray.preset_help"))
    quick_clicked = not runs and st.button(t("xray.quick"),
                                           key="xray_quick")
    if train_clicked or quick_clicked:  # a shared job in a worker process: other visitors asking for it attach
        cfg = XrayConfig(strategy="linear-probe" if quick_clicked else strategy, seed=seed,
                         epochs=0 if quick_clicked else epochs)
        follow(jobs.train_xray(cfg, owner=session_id(), label=t("xray.training", strategy=strategy_label(cfg.strategy), seed=seed)))
    if preset_clicked:  # three scratch CNNs and test-time augmentation, chosen on val (bench/xray/best.md)
        follow(jobs.train_xray_best(seed, owner=session_id(), label=t("xray.training_preset", seed=seed)))
    if st.session_state.get(JOBS_KEY):
        watch_jobs(st.session_state[JOBS_KEY], figure=curves,
                   done=lambda label, r: t("xray.done", auc=f"{r.get('test/auc', float('nan')):.3f}", acc=f"{r.get('test/acc', float('nan')):.3f}"))
        runs = list_xray_runs()
    elif not runs:
        st.info(t("xray.no_model"))

    if runs:
        st.subheader(t("xray.benchmark"))
        table = pd.DataFrame(comparison_rows(runs, list_presets()))
        table["method"] = table["method"].map({**{v: strategy_label(k) for k, v in STRATEGY_LABELS.items()},
                                               PRESET_LABEL: t("xray.preset_name")}).fillna(table["method"])
        table["source"] = [t("xray.source_ours", n=int(n)) if n == n and n else t("xray.source_published") for n in table["seeds"]]
        table = table.reindex(columns=["method", "source", "val AUC", "AUC", "AUC sd", "ACC", "ACC sd", "sensitivity", "specificity",
                                       "train s"]).dropna(axis=1, how="all")  # only runs on the whole training set are averaged
        table = table.rename(columns={"method": t("xray.col_method"), "source": t("xray.col_source"), "val AUC": t("xray.col_val_auc"),
                                      "AUC": t("xray.col_test_auc"), "AUC sd": t("xray.col_sd"), "ACC": t("xray.col_test_acc"),
                                      "ACC sd": t("xray.col_sd_acc"), "sensitivity": t("xray.sensitivity"),
                                      "specificity": t("xray.specificity"), "train s": t("xray.train_seconds")})
        st.dataframe(table, hide_index=True, column_config={
            c: st.column_config.NumberColumn(format="%.0f" if c == t("xray.train_seconds") else "%.3f")
            for c in table.columns if c not in (t("xray.col_method"), t("xray.col_source"))})
        st.caption(t("xray.published", citation=t("xray.citation")))  # engine.vision.benchmark.CITATION, in the session's language
        st.plotly_chart(comparison_chart(run_rows(runs)), key="xray_comparison")
        st.caption(t("xray.comparison_note"))
        with st.expander(t("xray.every_run")):
            st.dataframe(run_table(run_rows(runs)), hide_index=True)

        by_path = {str(r["path"]): r for r in runs}
        run = st.selectbox(t("xray.run_to_inspect"), list(by_path), format_func={p: run_label(r) for p, r in by_path.items()}.get, key="xray_run")
        files = load_run_files(run, stamp(Path(run)))
        ev, m = files["evaluation"], files["metrics"]
        y_test = np.asarray(ev["test_labels"])
        prob = files["probability"]
        st.caption(t("xray.x1_report"))
        cols = st.columns(5)
        for col, (k, name) in zip(cols, (("test/auc", "AUC"), ("test/acc", t("xray.acc_at")), ("test/sensitivity", t("xray.sensitivity")),
                                         ("test/specificity", t("xray.specificity")), ("train_seconds", t("xray.train_seconds")))):
            col.metric(name, f"{m[k]:.3f}" if k != "train_seconds" else f"{m[k]:.0f}")
        st.plotly_chart(curves(files["history"]), key="xray_curves")

        st.subheader(t("xray.threshold_title"))
        if files["val"] is None:
            st.info(t("xray.no_val_predictions"))
        else:
            v_prob, v_y = files["val"]
            suggested = round(youden_threshold(v_prob, v_y), 2)
            st.caption(t("xray.threshold_intro"))
            c1, c2 = st.columns(2)
            with c1:
                st.session_state.setdefault("xray_threshold", 0.5)  # X1's threshold until one is chosen on val
                thr = st.slider(t("xray.threshold"), 0.0, 1.0, step=0.01, key="xray_threshold", help=t("xray.threshold_help"))
                st.button(t("xray.use_youden", thr=f"{suggested:.2f}"), key="xray_youden", on_click=set_threshold, args=(suggested,),
                          help=t("xray.youden_help"))
                rep = threshold_report(v_prob, v_y, prob, y_test, thr)
                at = rep["val"]
                roc = ev["val"]["roc"]
                fig = go.Figure(go.Scatter(x=roc["fpr"], y=roc["tpr"], mode="lines", name=t("xray.roc_trace", auc=f"{m['val/auc']:.3f}")))
                fig.add_trace(go.Scatter(x=[1 - at["specificity"]], y=[at["sensitivity"]], mode="markers",
                                         marker=dict(size=12, color="red"), name=t("xray.threshold_at", thr=f"{thr:.2f}")))
                fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="gray"), showlegend=False))
                fig.update_layout(height=380, xaxis_title=t("xray.fpr_axis"), yaxis_title=t("xray.tpr_axis"), title=t("xray.roc"))
                st.plotly_chart(fig, key="xray_roc")
            with c2:
                s1, s2, s3 = st.columns(3)
                s1.metric(t("xray.val_sensitivity"), f"{at['sensitivity']:.3f}")
                s2.metric(t("xray.val_specificity"), f"{at['specificity']:.3f}")
                s3.metric(t("xray.val_acc"), f"{at['acc']:.3f}")
                cm = np.array(at["confusion"])
                st.plotly_chart(px.imshow(cm, text_auto=True, x=[t("xray.pred_normal"), t("xray.pred_pneumonia")], y=[class_label("normal"), class_label("pneumonia")],
                                          color_continuous_scale="Blues", title=t("xray.confusion", thr=f"{thr:.2f}"))
                                .update_layout(height=320), key="xray_cm")
            te = rep["test"]
            st.markdown(t("xray.test_line", thr=f"{thr:.2f}", sens=f"{te['sensitivity']:.3f}", spec=f"{te['specificity']:.3f}",
                          acc=f"{te['acc']:.3f}"))

        st.subheader(t("xray.tsne_title"))
        if st.toggle(t("xray.tsne_toggle"), key="xray_tsne"):
            maps = load_maps(run, stamp(Path(run)))
            wrong = (prob >= 0.5).astype(int) != y_test
            c1, c2 = st.columns(2)
            for col, name, title in ((c1, "before", t("xray.before")),
                                     (c2, "after", t("xray.after"))):
                xy = maps[name]
                d = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], t("xray.col_label"): [class_label(CLASSES[i]) for i in y_test],
                                  t("xray.col_mistake"): np.where(wrong, t("xray.misclassified"), t("xray.correct")), t("xray.col_probability"): prob})
                f = px.scatter(d, x="x", y="y", color=t("xray.col_label"), symbol=t("xray.col_mistake"),
                               color_discrete_map={class_label(c): v for c, v in COLORS.items()},
                               symbol_map={t("xray.correct"): "circle", t("xray.misclassified"): "x"}, hover_data=[t("xray.col_probability")],
                               title=title)
                col.plotly_chart(f.update_traces(marker=dict(size=6)).update_layout(height=420), key=f"xray_tsne_{name}")

    pages.xray_curve.label_efficiency_section()


def show_side_by_side(source, runs: list[dict], layer: str) -> None:  # noqa: ANN001 (a path or the uploaded bytes)
    """The same image through every stored strategy: probability, label at 0.5, Grad-CAM."""
    picks = one_run_per_strategy(runs)
    st.markdown(t("xray.side_by_side"))
    views: list[tuple[dict, CamView | str]] = []
    for r in picks:
        model, config = load_run_model(str(r["path"]), stamp(Path(r["path"])))
        views.append((r, cam_view(model, config, source, layer)))
    cols = st.columns(max(4, len(views)))  # small tiles: four to a row
    rows = []
    for col, (r, v) in zip(cols, views):
        name = strategy_label(r["config"].strategy)
        if isinstance(v, str):
            col.error(error_text(v), icon="🚫")
            continue
        col.image(overlay(v.image, v.heatmap), width="stretch",
                  caption=t("xray.side_caption", strategy=name, p=f"{v.probability:.2f}", label=class_label(v.label), h=v.grid[0], w=v.grid[1]))
        rows.append({t("xray.col_method"): name, t("xray.seed"): r["config"].seed, t("xray.col_probability"): round(v.probability, 3),
                     t("xray.col_label_at"): class_label(v.label), t("xray.col_test_auc"): round(r["metrics"]["test/auc"], 3)})
    presets = list_presets()
    if presets:  # the newest preset, on the whole training set when there is one
        p = next((q for q in presets if on_whole_training_set(q)), presets[0])
        v = preset_view(p["path"], source, load_preset_members(str(p["path"]), stamp(Path(p["path"]))))
        col = cols[len(views)] if len(views) < len(cols) else st.columns(4)[0]
        name = t("xray.preset_name")
        if isinstance(v, str):
            col.error(error_text(v), icon="🚫")
        else:
            col.image(v.image, width="stretch", caption=t("xray.side_caption_preset", p=f"{v.probability:.2f}", label=class_label(v.label),
                                                        spread=", ".join(f"{q:.2f}" for q in v.members)))
            rows.append({t("xray.col_method"): name, t("xray.seed"): p["config"]["seed"], t("xray.col_probability"): round(v.probability, 3),
                         t("xray.col_label_at"): class_label(v.label), t("xray.col_test_auc"): round(p["metrics"]["test/auc"], 3)})
    if rows:
        st.dataframe(pd.DataFrame(rows), hide_index=True)
    st.caption(t("xray.side_note"))


def show_analysis(a: Analysis, explainer: XrayExplainer) -> None:
    for w in a.warnings:
        st.warning(error_text(w), icon="⚠️")
    c1, c2, c3 = st.columns([1, 1, 1])
    c1.metric(t("xray.probability"), f"{a.probability:.2f}")
    c2.metric(t("xray.prediction"), class_label(a.label))
    c3.metric(t("xray.ood_score"), f"{a.ood_score:.3f} ({a.ood_threshold:.3f})")
    st.markdown(t("xray.preprocessing"))
    cols = st.columns(len(a.pre.steps) + 1)
    for col, (caption, img) in zip(cols, a.pre.steps):
        col.image(img, caption=error_text(caption), width="stretch")
    cols[-1].image(overlay(a.pre.image, a.heatmap), caption=t("xray.gradcam", label=class_label(a.label), h=a.cam_grid[0], w=a.cam_grid[1]),
                   width="stretch")
    st.caption(cam_caption(a.cam_layer, a.cam_grid, a.pre.image.shape[-1]) + " " + t("xray.cam_faithfulness"))
    st.markdown(t("xray.nearest"))
    cols = st.columns(max(1, len(a.neighbours)))
    train_images = load_data().images["train"]
    for col, nb in zip(cols, a.neighbours):
        col.image(train_images[nb.index], caption=f"#{nb.index}: {class_label(nb.label) if nb.label != '?' else '?'} ({nb.similarity:.2f})", width="stretch")


with tab_try:
    if not runs:
        st.info(t("xray.train_first"))
    else:
        by_path = {str(r["path"]): r for r in runs}
        default = next((i for i, r in enumerate(runs) if r["config"].strategy == "full" and not r["config"].train_subset), 0)
        run = st.selectbox(t("xray.model"), list(by_path), index=default, format_func={p: run_label(r) for p, r in by_path.items()}.get,
                           key="xray_try_run", bind="query-params")
        try:
            explainer = load_explainer(run, stamp(Path(run)))
        except EmbedLabError as e:
            st.error(error_text(e), icon="⚠️")
            st.stop()
        layer = st.radio(t("xray.cam_layer"), list(CAM_LAYERS), index=CAM_LAYERS.index(DEFAULT_CAM_LAYER), horizontal=True,
                         key="xray_cam_layer", format_func={k: t("xray.cam_layer_" + k) for k in CAM_LAYERS}.get, help=t("xray.cam_layer_help"))
        source = st.radio(t("xray.image"), ["A sample X-ray", "Upload your own"], horizontal=True, key="xray_source",
                          bind="query-params", format_func={"A sample X-ray": t("xray.source_sample"), "Upload your own": t("xray.source_upload")}.get)
        if source == "A sample X-ray":
            names = sorted(p.name for p in SAMPLES.glob("*.jpeg"))
            name = st.selectbox(t("xray.sample"),
                                names, key="xray_sample", bind="query-params")
            image_source = SAMPLES / name
            result = explainer.analyse_safely(image_source, name, cam_layer=layer)
        else:
            up = st.file_uploader(t("xray.upload"), key="xray_upload")
            image_source = up.getvalue() if up is not None else None
            result = explainer.analyse_safely(image_source, up.name, cam_layer=layer) if up is not None else None
            if up is None:
                st.caption(t("xray.drop"))
        if isinstance(result, str):
            st.error(error_text(result), icon="🚫")
        elif result is not None:
            show_analysis(result, explainer)
            show_side_by_side(image_source, runs, layer)
