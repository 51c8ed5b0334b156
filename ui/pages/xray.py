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
from engine.vision.benchmark import CITATION, STRATEGY_LABELS, comparison_rows
from engine.vision.explain import Analysis, XrayExplainer, embedding_maps, overlay
from engine.vision.metrics import at_threshold
from engine.vision.train import XrayConfig, list_xray_runs, train_and_save
import pages.common  # noqa: F401  (routes a first direct visit through app.py)
import pages.xray_curve
from pages.i18n import error_text, t

SAMPLES = ASSETS_DIR / "xray-samples"
COLORS = {"normal": "#1f77b4", "pneumonia": "#d62728"}


# --- cached loaders (engine does the work) -----------------------------------------------------------------------
@st.cache_data(show_spinner=t("xray.loading_data"))
def load_data() -> XrayData:
    return load_pneumoniamnist()


@st.cache_resource(max_entries=4, show_spinner=t("common.loading_model"))
def load_explainer(run: str, stamp: float) -> XrayExplainer:  # noqa: ARG001 (stamp: retrain invalidates)
    return XrayExplainer(run, train_labels=load_data().labels["train"])


@st.cache_data(max_entries=8)
def load_run_files(run: str, stamp: float) -> dict:  # noqa: ARG001
    p = Path(run)
    preds = pd.read_csv(p / "test_predictions.csv")
    return {"metrics": load_json(p / "metrics.json"), "history": load_json(p / "history.json"),
            "evaluation": load_json(p / "evaluation.json"), "probability": preds["probability"].to_numpy(),
            "index": preds["index"].to_numpy()}


@st.cache_data(max_entries=4, show_spinner=t("xray.computing_tsne"))
def load_maps(run: str, stamp: float) -> dict[str, np.ndarray]:  # noqa: ARG001
    return embedding_maps(run)


def stamp(run: Path) -> float:
    return (run / "metrics.json").stat().st_mtime


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
    df = pd.DataFrame([{t("xray.col_split"): s, t("xray.col_class"): class_label(c), t("xray.col_images"): n} for s, cs in counts.items() for c, n in cs.items()])
    c1, c2 = st.columns([1, 2])
    with c1:
        st.dataframe(df.pivot(index=t("xray.col_split"), columns=t("xray.col_class"), values=t("xray.col_images")).loc[["train", "val", "test"]])
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
    train_clicked = st.button(t("xray.train"), type="primary", key="xray_train")
    quick_clicked = not runs and st.button(t("xray.quick"),
                                           key="xray_quick")
    if train_clicked or quick_clicked:
        cfg = XrayConfig(strategy="linear-probe" if quick_clicked else strategy, seed=seed,
                         epochs=0 if quick_clicked else epochs)
        with st.status(t("xray.training", strategy=strategy_label(cfg.strategy), seed=seed), expanded=True) as status:
            bar = st.progress(0.0, text=t("xray.starting"))
            live = st.empty()
            hist: list[dict] = []

            def on_epoch(rec: dict) -> None:
                hist.append(rec)
                if len(hist) <= 20 or len(hist) % 5 == 0:
                    live.plotly_chart(curves(hist), key=f"xray_live_{len(hist)}")

            try:
                out = train_and_save(cfg, progress=lambda f, m: bar.progress(min(1.0, max(0.0, f)), text=m),
                                     on_epoch=on_epoch, data=data)
                m = load_json(out / "metrics.json")
                status.update(label=t("xray.done", auc=f"{m['test/auc']:.3f}", acc=f"{m['test/acc']:.3f}"), state="complete")
            except EmbedLabError as e:
                status.update(label=t("xray.failed"), state="error")
                st.error(error_text(e), icon="⚠️")
        runs = list_xray_runs()
    elif not runs:
        st.info(t("xray.no_model"))

    if runs:
        st.subheader(t("xray.benchmark"))
        table = pd.DataFrame(comparison_rows(runs))
        table["method"] = table["method"].map({v: strategy_label(k) for k, v in STRATEGY_LABELS.items()}).fillna(table["method"])
        table = table.rename(columns={"method": t("xray.col_method"), "source": t("xray.col_source"), "seeds": t("xray.col_seeds")})
        st.dataframe(table, hide_index=True, column_config={
            c: st.column_config.NumberColumn(format="%.3f") for c in table.columns if c not in (t("xray.col_method"), t("xray.col_source"), t("xray.col_seeds"))})
        st.caption(t("xray.published", citation=CITATION))

        by_path = {str(r["path"]): r for r in runs}
        run = st.selectbox(t("xray.run_to_inspect"), list(by_path), format_func={p: run_label(r) for p, r in by_path.items()}.get, key="xray_run")
        files = load_run_files(run, stamp(Path(run)))
        ev, m = files["evaluation"], files["metrics"]
        y_test = np.asarray(ev["test_labels"])
        prob = files["probability"]
        cols = st.columns(5)
        for col, (k, name) in zip(cols, (("test/auc", "AUC"), ("test/acc", t("xray.acc_at")), ("test/sensitivity", t("xray.sensitivity")),
                                         ("test/specificity", t("xray.specificity")), ("train_seconds", t("xray.train_seconds")))):
            col.metric(name, f"{m[k]:.3f}" if k != "train_seconds" else f"{m[k]:.0f}")
        st.plotly_chart(curves(files["history"]), key="xray_curves")

        c1, c2 = st.columns(2)
        with c1:
            thr = st.slider(t("xray.threshold"), 0.0, 1.0, 0.5, 0.01, key="xray_threshold",
                            help=t("xray.threshold_help"))
            at = at_threshold(prob, y_test, thr)
            roc = ev["test"]["roc"]
            fig = go.Figure(go.Scatter(x=roc["fpr"], y=roc["tpr"], mode="lines", name=f"ROC (AUC {m['test/auc']:.3f})"))
            fig.add_trace(go.Scatter(x=[1 - at["specificity"]], y=[at["sensitivity"]], mode="markers",
                                     marker=dict(size=12, color="red"), name=t("xray.threshold_at", thr=f"{thr:.2f}")))
            fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="gray"), showlegend=False))
            fig.update_layout(height=380, xaxis_title=t("xray.fpr_axis"), yaxis_title=t("xray.tpr_axis"), title=t("xray.roc"))
            st.plotly_chart(fig, key="xray_roc")
        with c2:
            s1, s2, s3 = st.columns(3)
            s1.metric(t("xray.sensitivity"), f"{at['sensitivity']:.3f}")
            s2.metric(t("xray.specificity"), f"{at['specificity']:.3f}")
            s3.metric("ACC", f"{at['acc']:.3f}")
            cm = np.array(at["confusion"])
            st.plotly_chart(px.imshow(cm, text_auto=True, x=[t("xray.pred_normal"), t("xray.pred_pneumonia")], y=[class_label("normal"), class_label("pneumonia")],
                                      color_continuous_scale="Blues", title=t("xray.confusion", thr=f"{thr:.2f}"))
                            .update_layout(height=320), key="xray_cm")

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
    cols[-1].image(overlay(a.pre.image, a.heatmap), caption=t("xray.gradcam", label=class_label(a.label)), width="stretch")
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
        source = st.radio(t("xray.image"), ["A sample X-ray", "Upload your own"], horizontal=True, key="xray_source",
                          bind="query-params", format_func={"A sample X-ray": t("xray.source_sample"), "Upload your own": t("xray.source_upload")}.get)
        if source == "A sample X-ray":
            names = sorted(p.name for p in SAMPLES.glob("*.jpeg"))
            name = st.selectbox(t("xray.sample"),
                                names, key="xray_sample", bind="query-params")
            result = explainer.analyse_safely(SAMPLES / name, name)
        else:
            up = st.file_uploader(t("xray.upload"), key="xray_upload")
            result = explainer.analyse_safely(up.getvalue(), up.name) if up is not None else None
            if up is None:
                st.caption(t("xray.drop"))
        if isinstance(result, str):
            st.error(error_text(result), icon="🚫")
        elif result is not None:
            show_analysis(result, explainer)
