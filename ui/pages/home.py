"""Home: what is here, which datasets are on disk, which models are trained."""
from __future__ import annotations

import pandas as pd
import streamlit as st

from engine.data import movielens
from engine.data.datasets import available, load_dataset
from engine.data.uploads import save_upload
from engine.errors import DataError
from engine.paths import data_dir
from engine.recsys.version import is_current
from engine.store import damaged_runs, list_runs, load_json
from pages.common import DATASET_KEY
from pages.i18n import t

st.title("🧭 Embedding Lab")
st.markdown(
    """
See inside the models of modern recommendation and medical imaging while you read the papers.

| Page | What you watch happen |
|---|---|
| **Train and compare** | YouTubeDNN mean pooling, GRU4Rec, MIND, ComiRec-DR and ComiRec-SA trained under one protocol (R1), with live loss and Recall@50 |
| **Embedding map** | t-SNE / PCA of item embeddings, a user's history and interest vectors on the same map |
| **Routing** | MIND's and ComiRec-DR's dynamic routing per iteration: coupling weights, capsule lengths, label-aware attention |
| **Nearest items** | faiss over item embeddings: per-interest recommendations, ComiRec's diversity λ, exact vs IVF vs HNSW |
| **Chest X-ray** | an ImageNet-pretrained EfficientNet-Lite0 fine-tuned on PneumoniaMNIST: prediction, Grad-CAM, nearest training cases |
"""
)

st.subheader("Datasets")
have = available()
root = data_dir()
rows = [
    {"dataset": "Synthetic (planted interests)", "status": "✅ generated offline", "where": "—"},
    {"dataset": "MovieLens-100K", "status": "✅ on disk" if have["ml-100k"] else "⬇️ not downloaded",
     "where": str(movielens.folder())},
]
try:
    from engine.data import medmnist  # the X-ray work adds it

    rows.append({"dataset": "PneumoniaMNIST (28 px)", "status": "✅ on disk" if medmnist.is_available() else "⬇️ not downloaded",
                 "where": str(root / "medmnist")})
except (ImportError, AttributeError):
    pass
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
st.caption(f"Data directory: `{root.resolve()}` (set `EMBEDLAB_DATA_DIR` or `--data-dir` to move it).")
if not have["ml-100k"]:
    st.caption("MovieLens-100K: research use only, no redistribution (GroupLens licence); it is downloaded to your data directory, never bundled.")
    if st.button("Download MovieLens-100K from GroupLens"):
        with st.spinner("Downloading and verifying…"):
            try:
                movielens.download()
                st.success("MovieLens-100K is ready: pick it in the sidebar.")
                st.rerun()
            except DataError as e:
                st.error(str(e))

def use_dataset(name: str) -> None:
    st.session_state[DATASET_KEY] = name  # in a callback: before the sidebar's Dataset box is drawn again


st.subheader("Your own interaction log")
st.markdown("A CSV or TSV with a header row and **user**, **item** and **timestamp** columns (**title** and "
            "**category** are optional). It is checked whole, R1 split included, kept under the runs directory, and "
            "listed in the sidebar's *Dataset* box; every recall page then works on it.")
upload = st.file_uploader("Interaction log (.csv, .tsv or .txt)", key="log_upload",
                          help=t("jobs.upload_limit", mb=st.get_option("server.maxUploadSize")))
st.caption(t("jobs.upload_limit", mb=st.get_option("server.maxUploadSize")))
if upload is not None:
    try:
        path = save_upload(upload.name, upload.getvalue())
        log = load_dataset(str(path))
    except DataError as e:
        st.error(str(e), icon="⚠️")
    else:
        st.success(f"**{upload.name}**: {len(log.log):,} interactions, {log.log['user'].nunique():,} users, "
                   f"{log.log['item'].nunique():,} items. Kept as `{path.name}`.")
        st.button("Use it now", key="use_upload", type="primary", on_click=use_dataset, args=(str(path),))

st.subheader("Trained models")
runs = []
for kind in ("recsys", "xray"):
    for run in list_runs(kind):
        cfg, met = load_json(run / "config.json"), load_json(run / "metrics.json")
        if kind == "recsys" and not is_current(cfg):
            continue  # trained by older model code: the pages no longer offer it
        runs.append({
            "kind": kind,
            "model": cfg.get("model") or cfg.get("strategy"),
            "dataset": cfg.get("dataset", "pneumoniamnist"),
            "seed": cfg.get("seed"),
            "Recall@50 / AUC": met.get("test/recall@50", met.get("test/auc")),
            "NDCG@50 / ACC": met.get("test/ndcg@50", met.get("test/acc")),
            "run": run.name,
        })
damaged = [why for kind in ("recsys", "xray") for _, why in damaged_runs(kind)]
if damaged:
    st.warning(t("jobs.damaged_home") + "\n\n" + "\n".join(f"- {why}" for why in damaged), icon="⚠️")
if runs:
    st.dataframe(pd.DataFrame(runs), hide_index=True, width="stretch",
                 column_config={"Recall@50 / AUC": st.column_config.NumberColumn(format="%.3f"),
                                "NDCG@50 / ACC": st.column_config.NumberColumn(format="%.3f")})
else:
    st.info("Nothing trained yet. Open **Train and compare** (or any page: it trains a small default model in under a minute), "
            "or train from the terminal: `python -m engine recsys train --model mind --dataset synthetic`.")
