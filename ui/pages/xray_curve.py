"""The X-ray page's label-efficiency chart: test AUC (or ACC) against the share of labelled training images,
one line per strategy with its 95% interval over seeds, read from the committed bench table
(bench/xray/label_efficiency.json, written by bench/xray_label_efficiency.py). Draws only."""
from __future__ import annotations

import json
from pathlib import Path

import plotly.graph_objects as go
import streamlit as st

from engine.paths import ASSETS_DIR
from engine.vision.benchmark import PUBLISHED
from pages.i18n import t

BENCH_JSON = ASSETS_DIR.parent / "bench" / "xray" / "label_efficiency.json"
STRATEGIES = ("scratch", "linear-probe", "partial", "full")
COLORS = {"scratch": "#2ca02c", "linear-probe": "#1f77b4", "partial": "#ff7f0e", "full": "#d62728"}


@st.cache_data
def load_table(path: str, stamp: float) -> dict:  # noqa: ARG001 (stamp: a rewritten table invalidates)
    return json.loads(Path(path).read_text())


def curve_figure(summary: list[dict], metric: str, reference: list[dict] | None = None) -> go.Figure:
    """Mean test `metric` ("test_auc" | "test_acc") per training fraction, error bars = 95% interval over seeds;
    `reference`: older 100% points (bench/xray/results.md), drawn as open markers and labelled as such."""
    fig = go.Figure()
    for s in STRATEGIES:
        rows = sorted((r for r in summary if r["strategy"] == s), key=lambda r: r["fraction"])
        if not rows:
            continue
        x = [100 * r["fraction"] for r in rows]
        y = [r[metric] for r in rows]
        hi = [max(0.0, r[metric + "_hi"] - r[metric]) if r["seeds"] > 1 else 0.0 for r in rows]
        lo = [max(0.0, r[metric] - r[metric + "_lo"]) if r["seeds"] > 1 else 0.0 for r in rows]
        hover = [t("xray_curve.hover", images=r["train_images"], seeds=r["seeds"]) for r in rows]
        fig.add_trace(go.Scatter(x=x, y=y, mode="lines+markers", name=t("xray.strategy_" + s.replace("-", "_")),
                                 line=dict(color=COLORS[s]), text=hover, hovertemplate="%{x}%: %{y:.3f}<br>%{text}",
                                 error_y=dict(type="data", array=hi, arrayminus=lo, visible=True)))
    for i, r in enumerate(reference or []):
        fig.add_trace(go.Scatter(x=[100 * r["fraction"]], y=[r[metric]], mode="markers", legendgroup="reference",
                                 name=t("xray_curve.reference"), showlegend=i == 0,
                                 marker=dict(symbol="circle-open", size=11, color=COLORS[r["strategy"]]),
                                 hovertemplate=t("xray.strategy_" + r["strategy"].replace("-", "_")) + ": %{y:.3f}"))
    automl = next((auc, acc) for method, auc, acc in PUBLISHED if "AutoML" in method)
    fig.add_hline(y=automl[0] if metric == "test_auc" else automl[1], line_dash="dot", line_color="gray",
                  annotation_text=t("xray_curve.automl"), annotation_position="bottom right")
    fig.update_layout(height=420, title=t("xray_curve.title"), xaxis_title=t("xray_curve.x_axis"),
                      yaxis_title=t("xray_curve.y_auc") if metric == "test_auc" else t("xray_curve.y_acc"),
                      xaxis=dict(type="log", tickvals=[1, 5, 10, 25, 100], ticktext=["1%", "5%", "10%", "25%", "100%"]))
    return fig


def label_efficiency_section() -> None:
    """Subheader, metric switch, chart and caption; an info line when the bench table is absent."""
    st.subheader(t("xray_curve.subheader"))
    if not BENCH_JSON.exists():
        st.info(t("xray_curve.missing"))
        return
    table = load_table(str(BENCH_JSON), BENCH_JSON.stat().st_mtime)
    metric = st.radio(t("xray_curve.metric"), ["test_auc", "test_acc"], horizontal=True, key="xray_curve_metric",
                      format_func={"test_auc": "AUC", "test_acc": "ACC"}.get)
    st.plotly_chart(curve_figure(table["summary"], metric, table.get("reference_100")), key="xray_curve_chart")
    st.caption(t("xray_curve.caption"))
