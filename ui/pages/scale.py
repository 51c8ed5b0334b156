"""Scale: what changes at a million items. faiss indexes' recall vs latency vs memory (stored 1M bench
and live on the app's own catalogue), full vs sampled softmax cost as the catalogue grows, DDP throughput."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import streamlit as st

from engine.paths import ASSETS_DIR
from engine.faiss_bench import clustered_vectors, default_settings, sweep, targets
from engine.recsys.distributed import rows_that_fit, table_bytes
from pages.common import choice, stored_runs
from pages.i18n import large_count, t

BENCH = ASSETS_DIR.parent / "bench"  # the repository's committed bench results


@st.cache_data(show_spinner=False)
def stored(name: str) -> dict | None:
    """A committed bench result (bench/<name>.json), or None when it is not there."""
    f = BENCH / f"{name}.json"
    return json.loads(f.read_text()) if f.exists() else None


def tradeoff_figure(rows: list[dict], title: str):
    """Recall@50 against single-query p50 latency (log scale), marker size = bytes per vector."""
    df = pd.DataFrame(rows)
    df["setting"] = [f"{r['index']} {r['param']}={r['value']}" if r["param"] else r["index"] for r in rows]
    fig = px.scatter(df, x="p50_ms", y="recall@50", color="index", size="bytes_per_vector", size_max=28, log_x=True,
                     hover_name="setting", hover_data={"bytes_per_vector": ":.1f", "memory_vs_flat": ":.3f", "p99_ms": ":.3f",
                                                       "qps_batch": ":.0f", "build_s": ":.1f"},
                     labels={"p50_ms": t("scale.axis_latency"), "recall@50": t("scale.axis_recall"), "index": t("scale.axis_index")},
                     title=title)
    for kind in df["index"].unique():  # join each index's sweep in knob order
        part = df[df["index"] == kind]
        if len(part) > 1:
            fig.add_scatter(x=part["p50_ms"], y=part["recall@50"], mode="lines", line=dict(width=1, color="lightgrey"),
                            showlegend=False, hoverinfo="skip")
    fig.add_hline(y=0.95, line_dash="dot", line_color="grey")
    fig.add_vline(x=1.0, line_dash="dot", line_color="grey")
    return fig


def table(rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame({
        t("scale.col_index"): [r["index"] for r in rows],
        t("scale.col_knob"): [f"{r['param']}={r['value']}" if r["param"] else "-" for r in rows],
        t("scale.col_recall"): [r["recall@50"] for r in rows],
        t("scale.col_p50"): [r["p50_ms"] for r in rows],
        t("scale.col_p99"): [r["p99_ms"] for r in rows],
        t("scale.col_qps"): [r["qps_batch"] for r in rows],
        t("scale.col_bytes"): [r["bytes_per_vector"] for r in rows],
        t("scale.col_mem"): [r["memory_vs_flat"] for r in rows],
        t("scale.col_build"): [r["build_s"] for r in rows],
    })


@st.cache_data(max_entries=8, show_spinner=False)
def live_sweep(key: str, _items: np.ndarray, _queries: np.ndarray) -> list[dict]:
    return sweep(_items, _queries, default_settings(len(_items), _items.shape[1]), k=min(50, len(_items) - 1), max_latency_queries=50)


def live_vectors() -> tuple[str, np.ndarray, np.ndarray, str]:
    """The newest stored run's item vectors and test users of the sidebar's dataset, else clustered vectors."""
    ch = choice()
    runs = stored_runs(ch.dataset, ch.seed, ("youtubednn", "gru4rec", "mind", "comirec-dr", "comirec-sa"))
    for r in runs:
        f = Path(r["path"]) / "test_embeddings.npz"
        if f.exists():
            with np.load(f) as z:
                items, uv, mask = z["item_vectors"][1:], z["user_vectors"], z["interest_mask"]
            return str(f), np.ascontiguousarray(items, dtype=np.float32), uv[mask].astype(np.float32), t("scale.live_from_run", path=Path(r["path"]).name)
    items, queries = clustered_vectors(2000, 100, d=64, n_topics=20, seed=0)
    return "clustered-2000", items, queries, t("scale.live_from_synthetic")


st.title(t("scale.title"))
st.markdown(t("scale.intro"))

# -- faiss ------------------------------------------------------------------------------------------
st.subheader(t("scale.faiss_header"))
fs = stored("faiss_scale")
if fs is None:
    st.info(t("scale.missing", name="bench/faiss_scale.json", cmd="python bench/faiss_scale.py"))
else:
    m = fs["meta"]
    st.markdown(t("scale.faiss_intro", items=f"{m['items']:,}", dim=m["dim"], queries=m["queries"], threads=m["threads"]))
    st.plotly_chart(tradeoff_figure(fs["rows"], t("scale.faiss_chart_title", items=f"{m['items']:,}")), width="stretch", key="faiss-stored")
    tg = fs["targets"]
    for name in ("fast", "small"):
        x = tg.get(name)
        if x:
            st.success(t(f"scale.target_{name}", index=x["index"], knob=f"{x['param']}={x['value']}" if x["param"] else t("scale.knob_none"), recall=f"{x['recall@50']:.3f}",
                         p50=f"{x['p50_ms']:.3f}", mem=f"{x['memory_vs_flat']:.3f}"))
        else:
            st.warning(t(f"scale.target_{name}_missed"))
    with st.expander(t("scale.faiss_table")):
        st.dataframe(table(fs["rows"]), width="stretch", hide_index=True)
        st.caption(t("scale.bench_meta", machine=m["machine"], date=m["date"], command=m["command"], vectors=m["vectors"]))

st.markdown(t("scale.live_header"))
if st.toggle(t("scale.live_toggle"), value=True, key="scale-live"):
    key, items, queries, source = live_vectors()
    with st.spinner(t("scale.live_spinner", n=f"{len(items):,}")):
        rows = live_sweep(key, items, queries)
    st.caption(source)
    st.plotly_chart(tradeoff_figure(rows, t("scale.live_chart_title", n=f"{len(items):,}")), width="stretch", key="faiss-live")

# -- softmax ----------------------------------------------------------------------------------------
st.subheader(t("scale.softmax_header"))
st.markdown(t("scale.softmax_intro"))
sm = stored("softmax_scale")
if sm is None:
    st.info(t("scale.missing", name="bench/softmax_scale.json", cmd="python bench/softmax_scale.py"))
else:
    long = []
    for r in sm["rows"]:
        for col, label in (("full_ms", t("scale.series_full")), ("sampled_dense_ms", t("scale.series_dense")),
                           ("sampled_sparse_ms", t("scale.series_sparse"))):
            if r[col] is not None:
                long.append({"items": r["items"], "ms": r[col], "loss": label})
    fig = px.line(pd.DataFrame(long), x="items", y="ms", color="loss", markers=True, log_x=True, log_y=True,
                  labels={"items": t("scale.axis_items"), "ms": t("scale.axis_step_ms"), "loss": t("scale.axis_loss")},
                  title=t("scale.softmax_chart_title", batch=sm["meta"]["batch"]))
    st.plotly_chart(fig, width="stretch", key="softmax")
    refused = [r for r in sm["rows"] if r["full_ms"] is None]
    if refused:
        r = refused[0]
        st.warning(t("scale.softmax_refused", items=f"{r['items']:,}", gib=f"{r['full_logit_bytes'] / 2**30:.1f}"))
    st.caption(t("scale.bench_meta_short", machine=sm["meta"]["machine"], date=sm["meta"]["date"], command=sm["meta"]["command"]))

# -- DDP --------------------------------------------------------------------------------------------
st.subheader(t("scale.ddp_header"))
st.markdown(t("scale.ddp_intro"))
dd = stored("ddp")
if dd is None:
    st.info(t("scale.missing", name="bench/ddp.json", cmd="python bench/ddp.py"))
else:
    df = pd.DataFrame(dd["rows"])
    df["processes"] = df["processes"].astype(str)
    fig = px.bar(df, x="model", y="examples_per_s", color="processes", barmode="group",
                 labels={"examples_per_s": t("scale.axis_examples"), "model": t("scale.axis_model"), "processes": t("scale.axis_procs")},
                 title=t("scale.ddp_chart_title"))
    st.plotly_chart(fig, width="stretch", key="ddp")
    st.caption(t("scale.bench_meta_short", machine=dd["meta"]["machine"], date=dd["meta"]["date"], command=dd["meta"]["command"]))

st.markdown(t("scale.torchrec_intro"))
dim = st.select_slider(t("scale.dim_label"), options=[32, 64, 128, 256], value=64, key="scale-dim")
mem_gib = st.select_slider(t("scale.mem_label"), options=[16, 64, 128, 256, 512, 1024], value=128, key="scale-mem")
per_row = table_bytes(1, dim)
fit_rows = rows_that_fit(mem_gib * 2**30, dim)
c1, c2, c3 = st.columns(3)
c1.metric(t("scale.metric_row"), t("scale.value_bytes", n=f"{per_row:,}"))
c2.metric(t("scale.metric_1m"), t("scale.value_gib", n=f"{table_bytes(1_000_000, dim) / 2**30:.2f}"))
c3.metric(t("scale.metric_fit"), large_count(fit_rows))
st.caption(t("scale.torchrec_note", dim=dim, per_row=per_row, mem=mem_gib, rows=large_count(fit_rows)))
