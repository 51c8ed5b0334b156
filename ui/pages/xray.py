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

SAMPLES = ASSETS_DIR / "xray-samples"
COLORS = {"normal": "#1f77b4", "pneumonia": "#d62728"}


# --- cached loaders (engine does the work) -----------------------------------------------------------------------
@st.cache_data(show_spinner="Loading PneumoniaMNIST…")
def load_data() -> XrayData:
    return load_pneumoniamnist()


@st.cache_resource(max_entries=4, show_spinner="Loading the trained model…")
def load_explainer(run: str, stamp: float) -> XrayExplainer:  # noqa: ARG001 (stamp: retrain invalidates)
    return XrayExplainer(run, train_labels=load_data().labels["train"])


@st.cache_data(max_entries=8)
def load_run_files(run: str, stamp: float) -> dict:  # noqa: ARG001
    p = Path(run)
    preds = pd.read_csv(p / "test_predictions.csv")
    return {"metrics": load_json(p / "metrics.json"), "history": load_json(p / "history.json"),
            "evaluation": load_json(p / "evaluation.json"), "probability": preds["probability"].to_numpy(),
            "index": preds["index"].to_numpy()}


@st.cache_data(max_entries=4, show_spinner="Computing t-SNE of the test embeddings…")
def load_maps(run: str, stamp: float) -> dict[str, np.ndarray]:  # noqa: ARG001
    return embedding_maps(run)


def stamp(run: Path) -> float:
    return (run / "metrics.json").stat().st_mtime


def run_label(r: dict) -> str:
    c, m = r["config"], r["metrics"]
    sub = f", {c.train_subset} training images" if c.train_subset else ""
    return (f"{STRATEGY_LABELS[c.strategy]} · seed {c.seed}{sub} · test AUC {m['test/auc']:.3f}, "
            f"ACC {m['test/acc']:.3f} · {Path(r['path']).name.rsplit('-', 1)[-1][:6]}")


def curves(history: list[dict]) -> go.Figure:
    df = pd.DataFrame(history)
    fig = go.Figure()
    for col, name in (("train_loss", "train loss"), ("val_loss", "val loss"), ("val_auc", "val AUC")):
        if col in df:
            fig.add_trace(go.Scatter(x=df["epoch"], y=df[col], mode="lines+markers", name=name))
    fig.update_layout(height=300, margin=dict(l=10, r=10, t=30, b=10), xaxis_title="epoch", title="Training curves")
    return fig


# --- page ----------------------------------------------------------------------------------------------------------
st.title("🩻 Chest X-ray: pneumonia or normal?")
st.caption("PneumoniaMNIST (MedMNIST v2, from Kermany et al., Cell 2018; CC BY 4.0) under protocol X1: the dataset's "
           "own train / val / test splits, model selection on val, test touched once. EfficientNet-Lite0 "
           "(Tan & Le 2019) pretrained on ImageNet. A teaching tool, not a medical device.")

try:
    data = load_data()
except EmbedLabError as e:
    st.error(str(e), icon="⚠️")
    st.stop()

tab_data, tab_train, tab_try = st.tabs(["Data", "Fine-tuning and results", "Try an X-ray"])

with tab_data:
    counts = data.counts()
    df = pd.DataFrame([{"split": s, "class": c, "images": n} for s, cs in counts.items() for c, n in cs.items()])
    c1, c2 = st.columns([1, 2])
    with c1:
        st.dataframe(df.pivot(index="split", columns="class", values="images").loc[["train", "val", "test"]])
        for w in data.warnings:
            st.caption(f"ℹ️ {w}")
    with c2:
        st.plotly_chart(px.bar(df, x="split", y="images", color="class", barmode="group", color_discrete_map=COLORS,
                               title="Class balance per split").update_layout(height=300), key="xray_balance")
    grid = data.images["train"]
    rng = np.random.default_rng(0)
    picks = [i for c in (0, 1) for i in rng.choice(np.flatnonzero(data.labels["train"] == c), 8, replace=False)]
    fig = px.imshow(np.stack([grid[i] for i in picks]), facet_col=0, facet_col_wrap=8, binary_string=True,
                    title="Training samples (top: normal, bottom: pneumonia), 28 x 28 px")
    fig.for_each_annotation(lambda a: a.update(text=""))
    fig.update_xaxes(showticklabels=False).update_yaxes(showticklabels=False)
    st.plotly_chart(fig.update_layout(height=330, margin=dict(l=0, r=0, t=40, b=0)), key="xray_grid")

runs = list_xray_runs()

with tab_train:
    st.subheader("Fine-tune")
    c1, c2, c3 = st.columns(3)
    strategy = c1.selectbox("Strategy", list(STRATEGY_LABELS), format_func=STRATEGY_LABELS.get, key="xray_strategy",
                            help="Linear probe: frozen backbone, only the classifier learns (about a minute). "
                                 "Last blocks: the last two stages and the head. Full: everything, the backbone at "
                                 "a tenth of the head's learning rate. Small CNN: the from-scratch baseline.")
    seed = int(c2.number_input("Seed", 0, 99, 0, key="xray_seed"))
    epochs = int(c3.number_input("Epochs (0 = default)", 0, 60, 0, key="xray_epochs",
                                 help="Defaults: linear probe 60 (on cached embeddings), last blocks 10, full 10, CNN 20."))
    train_clicked = st.button("Train", type="primary", key="xray_train")
    quick_clicked = not runs and st.button("No trained model yet: train a quick linear probe (about a minute)",
                                           key="xray_quick")
    if train_clicked or quick_clicked:
        cfg = XrayConfig(strategy="linear-probe" if quick_clicked else strategy, seed=seed,
                         epochs=0 if quick_clicked else epochs)
        with st.status(f"Training: {STRATEGY_LABELS[cfg.strategy]}, seed {seed}", expanded=True) as status:
            bar = st.progress(0.0, text="starting")
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
                status.update(label=f"Done: test AUC {m['test/auc']:.3f}, ACC {m['test/acc']:.3f}", state="complete")
            except EmbedLabError as e:
                status.update(label="Training failed", state="error")
                st.error(str(e), icon="⚠️")
        runs = list_xray_runs()
    elif not runs:
        st.info("No trained model is stored yet. Train one above, or with "
                "`python -m engine xray train --strategy full --out runs/xray/full`.")

    if runs:
        st.subheader("Strategies against the MedMNIST v2 benchmark (test split)")
        table = pd.DataFrame(comparison_rows(runs))
        st.dataframe(table, hide_index=True, column_config={
            c: st.column_config.NumberColumn(format="%.3f") for c in table.columns if c not in ("method", "source", "seeds")})
        st.caption(f"Published rows: {CITATION}. Our rows: mean (sd) over the seeds trained here, threshold 0.5.")

        by_path = {str(r["path"]): r for r in runs}
        run = st.selectbox("Run to inspect", list(by_path), format_func=lambda p: run_label(by_path[p]), key="xray_run")
        files = load_run_files(run, stamp(Path(run)))
        ev, m = files["evaluation"], files["metrics"]
        y_test = np.asarray(ev["test_labels"])
        prob = files["probability"]
        cols = st.columns(5)
        for col, (k, name) in zip(cols, (("test/auc", "AUC"), ("test/acc", "ACC at 0.5"), ("test/sensitivity", "Sensitivity"),
                                         ("test/specificity", "Specificity"), ("train_seconds", "Train seconds"))):
            col.metric(name, f"{m[k]:.3f}" if k != "train_seconds" else f"{m[k]:.0f}")
        st.plotly_chart(curves(files["history"]), key="xray_curves")

        c1, c2 = st.columns(2)
        with c1:
            thr = st.slider("Decision threshold", 0.0, 1.0, 0.5, 0.01, key="xray_threshold",
                            help="X1 reports ACC at 0.5; move it to trade sensitivity for specificity.")
            at = at_threshold(prob, y_test, thr)
            roc = ev["test"]["roc"]
            fig = go.Figure(go.Scatter(x=roc["fpr"], y=roc["tpr"], mode="lines", name=f"ROC (AUC {m['test/auc']:.3f})"))
            fig.add_trace(go.Scatter(x=[1 - at["specificity"]], y=[at["sensitivity"]], mode="markers",
                                     marker=dict(size=12, color="red"), name=f"threshold {thr:.2f}"))
            fig.add_trace(go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line=dict(dash="dot", color="gray"), showlegend=False))
            fig.update_layout(height=380, xaxis_title="1 - specificity", yaxis_title="sensitivity", title="Test ROC")
            st.plotly_chart(fig, key="xray_roc")
        with c2:
            s1, s2, s3 = st.columns(3)
            s1.metric("Sensitivity", f"{at['sensitivity']:.3f}")
            s2.metric("Specificity", f"{at['specificity']:.3f}")
            s3.metric("ACC", f"{at['acc']:.3f}")
            cm = np.array(at["confusion"])
            st.plotly_chart(px.imshow(cm, text_auto=True, x=["pred normal", "pred pneumonia"], y=["normal", "pneumonia"],
                                      color_continuous_scale="Blues", title=f"Confusion matrix at {thr:.2f}")
                            .update_layout(height=320), key="xray_cm")

        st.subheader("Test embeddings before and after training (t-SNE)")
        if st.toggle("Compute the t-SNE maps (about 10 s)", key="xray_tsne"):
            maps = load_maps(run, stamp(Path(run)))
            wrong = (prob >= 0.5).astype(int) != y_test
            c1, c2 = st.columns(2)
            for col, name, title in ((c1, "before", "Before: pretrained (ImageNet) features"),
                                     (c2, "after", "After: this run's features")):
                xy = maps[name]
                d = pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "label": [CLASSES[i] for i in y_test],
                                  "mistake": np.where(wrong, "misclassified", "correct"), "probability": prob})
                f = px.scatter(d, x="x", y="y", color="label", symbol="mistake", color_discrete_map=COLORS,
                               symbol_map={"correct": "circle", "misclassified": "x"}, hover_data=["probability"],
                               title=title)
                col.plotly_chart(f.update_traces(marker=dict(size=6)).update_layout(height=420), key=f"xray_tsne_{name}")


def show_analysis(a: Analysis, explainer: XrayExplainer) -> None:
    for w in a.warnings:
        st.warning(w, icon="⚠️")
    c1, c2, c3 = st.columns([1, 1, 1])
    c1.metric("Probability of pneumonia", f"{a.probability:.2f}")
    c2.metric("Prediction (threshold 0.5)", a.label)
    c3.metric("OOD score (threshold)", f"{a.ood_score:.3f} ({a.ood_threshold:.3f})")
    st.markdown("**Preprocessing** (the same function prepares training, evaluation and uploads)")
    cols = st.columns(len(a.pre.steps) + 1)
    for col, (caption, img) in zip(cols, a.pre.steps):
        col.image(img, caption=caption, width="stretch")
    cols[-1].image(overlay(a.pre.image, a.heatmap), caption=f"Grad-CAM ({a.label}), last conv block", width="stretch")
    st.markdown("**Nearest training cases** (faiss, cosine similarity of embeddings)")
    cols = st.columns(max(1, len(a.neighbours)))
    train_images = load_data().images["train"]
    for col, nb in zip(cols, a.neighbours):
        col.image(train_images[nb.index], caption=f"#{nb.index}: {nb.label} ({nb.similarity:.2f})", width="stretch")


with tab_try:
    if not runs:
        st.info("Train a model first (the quick linear probe takes about a minute) in 'Fine-tuning and results'.")
    else:
        by_path = {str(r["path"]): r for r in runs}
        default = next((i for i, r in enumerate(runs) if r["config"].strategy == "full" and not r["config"].train_subset), 0)
        run = st.selectbox("Model", list(by_path), index=default, format_func=lambda p: run_label(by_path[p]),
                           key="xray_try_run", bind="query-params")
        try:
            explainer = load_explainer(run, stamp(Path(run)))
        except EmbedLabError as e:
            st.error(str(e), icon="⚠️")
            st.stop()
        source = st.radio("Image", ["A sample X-ray", "Upload your own"], horizontal=True, key="xray_source",
                          bind="query-params")
        if source == "A sample X-ray":
            names = sorted(p.name for p in SAMPLES.glob("*.jpeg"))
            name = st.selectbox("Sample (Kermany et al. 2018, CC BY 4.0; NORMAL2-* normal, person*_bacteria_* pneumonia)",
                                names, key="xray_sample", bind="query-params")
            result = explainer.analyse_safely(SAMPLES / name, name)
        else:
            up = st.file_uploader("A chest X-ray: PNG, JPEG or DICOM (up to 20 MB)", key="xray_upload")
            result = explainer.analyse_safely(up.getvalue(), up.name) if up is not None else None
            if up is None:
                st.caption("Drop a file above. Anything that is not a readable chest X-ray gets a message, not a crash.")
        if isinstance(result, str):
            st.error(result, icon="🚫")
        elif result is not None:
            show_analysis(result, explainer)
