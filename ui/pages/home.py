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
from pages.i18n import error_text, t

st.title("🧭 " + t("app.name"))
st.markdown(t("home.intro"))

st.subheader(t("home.datasets"))
have = available()
root = data_dir()
rows = [
    {t("home.col_dataset"): t("common.synthetic"), t("home.col_status"): "✅ " + t("home.generated"), t("home.col_where"): "—"},
    {t("home.col_dataset"): "MovieLens-100K", t("home.col_status"): "✅ " + t("home.on_disk") if have["ml-100k"] else "⬇️ " + t("home.not_downloaded"),
     t("home.col_where"): str(movielens.folder())},
]
try:
    from engine.data import medmnist  # the X-ray work adds it

    rows.append({t("home.col_dataset"): "PneumoniaMNIST (28 px)", t("home.col_status"): "✅ " + t("home.on_disk") if medmnist.is_available() else "⬇️ " + t("home.not_downloaded"),
                 t("home.col_where"): str(root / "medmnist")})
except (ImportError, AttributeError):
    pass
st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
st.caption(t("home.data_dir", path=root.resolve()))
if not have["ml-100k"]:
    st.caption(t("home.ml_licence"))
    if st.button(t("home.download_ml")):
        with st.spinner(t("home.downloading")):
            try:
                movielens.download()
                st.success(t("home.ml_ready"))
                st.rerun()
            except DataError as e:
                st.error(error_text(e))

def use_dataset(name: str) -> None:
    st.session_state[DATASET_KEY] = name  # in a callback: before the sidebar's Dataset box is drawn again


st.subheader(t("home.own_log"))
st.markdown(t("home.own_log_text"))
upload = st.file_uploader(t("home.upload_label"), key="log_upload",
                          help=t("jobs.upload_limit", mb=st.get_option("server.maxUploadSize")))
st.caption(t("jobs.upload_limit", mb=st.get_option("server.maxUploadSize")))
if upload is not None:
    try:
        path = save_upload(upload.name, upload.getvalue())
        log = load_dataset(str(path))
    except DataError as e:
        st.error(error_text(e), icon="⚠️")
    else:
        st.success(t("home.upload_ok", name=upload.name, interactions=f"{len(log.log):,}", users=f"{log.log['user'].nunique():,}",
                     items=f"{log.log['item'].nunique():,}", kept=path.name))
        st.button(t("home.use_now"), key="use_upload", type="primary", on_click=use_dataset, args=(str(path),))

st.subheader(t("home.trained"))
runs = []
for kind in ("recsys", "xray"):
    for run in list_runs(kind):
        cfg, met = load_json(run / "config.json"), load_json(run / "metrics.json")
        if kind == "recsys" and not is_current(cfg):
            continue  # trained by older model code: the pages no longer offer it
        runs.append({
            t("home.col_kind"): kind,
            t("home.col_model"): cfg.get("model") or cfg.get("strategy"),
            t("home.col_dataset"): cfg.get("dataset", "pneumoniamnist"),
            t("home.col_seed"): cfg.get("seed"),
            "Recall@50 / AUC": met.get("test/recall@50", met.get("test/auc")),
            "NDCG@50 / ACC": met.get("test/ndcg@50", met.get("test/acc")),
            t("interests.home_cos"): met.get("test/interest_cosine"),
            t("home.col_run"): run.name,
        })
damaged = [why for kind in ("recsys", "xray") for _, why in damaged_runs(kind)]
if damaged:
    st.warning(t("jobs.damaged_home") + "\n\n" + "\n".join(f"- {error_text(why)}" for why in damaged), icon="⚠️")
if runs:
    st.dataframe(pd.DataFrame(runs), hide_index=True, width="stretch",
                 column_config={"Recall@50 / AUC": st.column_config.NumberColumn(format="%.3f"),
                                "NDCG@50 / ACC": st.column_config.NumberColumn(format="%.3f"),
                                t("interests.home_cos"): st.column_config.NumberColumn(format="%.2f")})
else:
    st.info(t("home.nothing_trained"))
