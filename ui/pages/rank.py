"""Ranking: a recall run fetches a test user's candidates, a BaseModel / DIN / DIEN run re-orders them.
Before/after (where each held-out item moved), the attention and AUGRU's update gates over the history for
one candidate, and the interest-evolution paths of several targets (DIEN Fig. 3)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from engine.jobs import rank_key, train_rank
from engine.rank import inspect as ins
from engine.rank.run import app_default, settings_kind
from pages.common import (choice, friendly_errors, job_snapshot, load_run_cached, offer_retry, pick_run, session_id, user_picker,
                          watch_jobs)
from pages.i18n import t

SYMBOL_A = "a_t"  # the paper's symbol for the attention score: the same in every language

RECALL_MODELS = ("youtubednn", "mind", "comirec-dr", "comirec-sa")
RANKERS = ("dien", "din", "base")

st.title(t("rank.title"))
st.markdown(t("rank.intro"))


def ranker_job(config):
    """Start (or attach to) the training of ranker `config` as a shared job (engine.jobs), like the recall pages."""
    return train_rank(config, owner=session_id(), label=t("rank.training", model=config.label))


def live_figure(history: list[dict]) -> go.Figure:
    """A ranker job's epochs: training loss and the validation NDCG@10 its epochs are chosen on."""
    from plotly.subplots import make_subplots

    ep = [h["epoch"] for h in history]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(x=ep, y=[h["loss/target"] for h in history], mode="lines+markers", name=t("common.training_loss")), secondary_y=False)
    fig.add_trace(go.Scatter(x=ep, y=[h.get("val/ndcg@10_all") for h in history], mode="lines+markers", name=t("rank.live_val")), secondary_y=True)
    fig.update_layout(title=t("rank.live_title"), height=300, margin=dict(t=40, b=10), legend=dict(orientation="h", y=-0.3))
    fig.update_xaxes(title_text=t("common.epoch"))
    fig.update_yaxes(title_text=t("common.loss"), secondary_y=False)
    fig.update_yaxes(title_text="NDCG@10", secondary_y=True, rangemode="tozero")
    return fig


def ranker_done(config):
    """The sentence a finished ranker job leaves: its model and test AUC."""
    return lambda label, result: t("rank.trained", model=config.label, auc=result.get("test/auc", float("nan")))  # noqa: ARG005


def stored_rankers(dataset: str, seed: int) -> list[dict]:
    """Stored rankers of this split, one per trained model (a ranker evaluated behind several recall runs is stored
    once per recall run with the same weights), the validation-chosen settings first, then newest first."""
    from engine.rank.run import list_runs, settings_kind, training_key

    seen, out = set(), []
    for r in list_runs():
        if r["config"].dataset == dataset and r["config"].seed == seed and (key := training_key(r["config"])) not in seen:
            seen.add(key)
            out.append(r)
    return sorted(out, key=lambda r: settings_kind(r["config"]) != "default")  # stable: newest first within each


@st.cache_resource(max_entries=8, show_spinner=False)
def load_ranker(path: str):
    from engine.rank.run import load_run

    return load_run(path)


@st.cache_data(max_entries=16, show_spinner=False)
def two_stage_summary(ranker_path: str, recall_path: str) -> dict[str, dict[str, float]]:
    """Validation and test NDCG@10 of the recall order, the re-ranked top 200 and the ranker alone (protocol R2)."""
    from engine.rank import protocol

    rank_run, recall_run = load_ranker(ranker_path), load_run_cached(recall_path)
    out = {}
    for part, es in (("val", rank_run.split.val), ("test", rank_run.split.test)):
        m = protocol.two_stage(rank_run.model, recall_run.model, es).metrics
        out[part] = {"recall": m["ndcg@10_recall_only"], "reranked": m["ndcg@10"],
                     "alone": rank_run.metrics.get(f"{part}/ndcg@10_all", float("nan"))}
    return out


# -- pick: recall run, ranker run, user ------------------------------------------------------------
ch = choice()
recall = pick_run(RECALL_MODELS, default_model="mind", key="recall_run", label=t("rank.recall_run"))
c1, c2 = st.columns([2, 3])
model = c1.radio(t("rank.ranker"), RANKERS, key="ranker", horizontal=True, bind="query-params",
                 format_func=lambda m: t(f"rank.model_{m}"))
small = app_default(ch.dataset, ch.seed, model)  # what a first visit trains when no run of `model` is stored
small_key = rank_key(small)
small_snap = job_snapshot(small_key)  # before listing: a job seen done has published its run
runs = [r for r in stored_rankers(ch.dataset, ch.seed) if r["config"].model == model]
if not runs:  # the small default trains as a shared job (every visitor attaches); the page reruns when it is done
    if small_snap is not None and small_snap["state"] in ("failed", "cancelled"):
        offer_retry(small_snap, small_key, lambda: ranker_job(small), "rank-train-again")
    st.info(t("rank.no_ranker"))
    ranker_job(small)
    watch_jobs([small_key], figure=live_figure, done=ranker_done(small))
    st.stop()
if model == "dien":
    alphas = sorted({float(r["config"].aux_weight) for r in runs})
    if len(alphas) > 1:
        alpha = c2.select_slider(t("rank.alpha"), alphas, value=alphas[-1] if 1.0 not in alphas else 1.0, key="alpha",
                                 format_func=lambda a: f"{a:g}", help=t("rank.alpha_help"))
    else:  # one stored value: a slider with one stop would move nothing; say how to get more
        alpha = alphas[0]
        c2.caption(t("rank.alpha_only", alpha=f"{alpha:g}"), help=t("rank.alpha_help"))
    runs = sorted((r for r in runs if float(r["config"].aux_weight) == alpha), key=lambda r: r["config"].evolution != "augru")  # AUGRU first
by_path = {str(r["path"]): r for r in runs}
path = st.selectbox(t("rank.ranker_run"), list(by_path), key="ranker_run",
                    format_func=lambda p: t("rank.run_label", label=by_path[p]["config"].label, auc=by_path[p]["metrics"]["test/auc"],
                                            hash=p.rsplit("-", 1)[-1][:6], settings=t("rank.settings_" + settings_kind(by_path[p]["config"]))))
with friendly_errors():
    rank_run = load_ranker(path)
if rank_run.split.n_items != recall.split.n_items or rank_run.config.seed != recall.config.seed:
    st.error(t("rank.mismatch"))
    st.stop()
ranker, split = rank_run.model, recall.split
m = rank_run.metrics
k1, k2, k3 = st.columns(3)
k1.metric(t("rank.test_auc"), f"{m['test/auc']:.3f}", help=t("rank.auc_help"))
k2.metric(t("rank.val_auc"), f"{m['val/auc']:.3f}")
k3.metric(t("rank.test_auc100"), f"{m['test/auc@1:100']:.3f}")

with st.expander(t("rank.compare"), expanded=False):
    allr = stored_rankers(ch.dataset, ch.seed)
    st.dataframe(pd.DataFrame([{t("rank.col_model"): r["config"].label, t("rank.col_settings"): t("rank.settings_" + settings_kind(r["config"])),
                                t("rank.col_val_alone"): r["metrics"].get("val/ndcg@10_all"), t("rank.col_val_auc"): r["metrics"]["val/auc"],
                                t("rank.col_test_auc"): r["metrics"]["test/auc"], t("rank.col_test_auc100"): r["metrics"]["test/auc@1:100"]}
                               for r in allr]), hide_index=True, width="stretch")

summary = two_stage_summary(str(rank_run.path), str(recall.path))
st.markdown(t("rank.summary_header"))
st.dataframe(pd.DataFrame({t("rank.col_recall_order"): [summary[p]["recall"] for p in ("val", "test")],
                           t("rank.col_reranked"): [summary[p]["reranked"] for p in ("val", "test")],
                           t("rank.col_alone"): [summary[p]["alone"] for p in ("val", "test")]},
                          index=[t("rank.row_val"), t("rank.row_test")]).style.format("{:.3f}"), width="stretch")
st.caption(t("rank.summary_caption"))

row = user_picker(split.test, label=t("rank.user"))
n = st.slider(t("rank.n_candidates"), 10, 200, 50, 10, key="n_cand", bind="query-params", help=t("rank.n_help"))
titles = split.item_titles
with friendly_errors():
    view = ins.rerank_user(ranker, recall.model, split.test, row, n)
targets = set(int(i) for i in view.targets)

# -- before / after ----------------------------------------------------------------------------------
st.subheader(t("rank.before_after"))
mv = view.moves()
fig = go.Figure()
for item, r0, r1 in mv:
    if item not in targets and r0 > 10 and r1 > 10:
        continue
    hit = item in targets
    fig.add_trace(go.Scatter(x=[0, 1], y=[r0, r1], mode="lines+markers", showlegend=False,
                             line=dict(color="crimson" if hit else "lightgray", width=3 if hit else 1),
                             name=titles[item], hovertemplate=f"{titles[item]}<br>{r0} → {r1}<extra></extra>"))
    if hit:
        fig.add_annotation(x=1, y=r1, text=titles[item], showarrow=False, xanchor="left", font=dict(size=10))
fig.update_layout(title=t("rank.slope_title", n=len(view.before)), height=520, margin=dict(t=50, r=220),
                  yaxis=dict(autorange="reversed", title=t("rank.rank_axis")),
                  xaxis=dict(tickvals=[0, 1], ticktext=[t("rank.recall_order"), t("rank.ranker_order")], range=[-0.1, 1.1]))
st.plotly_chart(fig, width="stretch", key="slope")
hits_in = [(i, a, b) for i, a, b in mv if i in targets]
st.caption(t("rank.slope_caption", hits=len(hits_in), n=len(view.before), held=len(targets)))
m1, m2 = st.columns(2)
m1.metric(t("rank.ndcg_recall"), f"{view.metrics['ndcg@10_recall_only']:.3f}")
m2.metric(t("rank.ndcg_ranker"), f"{view.metrics['ndcg@10']:.3f}",
          delta=f"{view.metrics['ndcg@10'] - view.metrics['ndcg@10_recall_only']:+.3f}")
top = pd.DataFrame({t("rank.recall_order"): [("🎯 " if i in targets else "") + titles[i] for i in view.before[:10]],
                    t("rank.ranker_order"): [("🎯 " if i in targets else "") + titles[i] for i in view.after[:10]]},
                   index=pd.Index(range(1, min(10, len(view.before)) + 1), name=t("rank.rank_axis")))
st.dataframe(top, width="stretch")

# -- attention and gates for one candidate ------------------------------------------------------------
hist = split.test.hist[row, : split.test.lens[row]]
hist_labels = [f"{s + 1}. {titles[i]}" for s, i in enumerate(hist)]
st.subheader(t("rank.attention_header"))
if model == "base":
    st.info(t("rank.base_no_attention"))
else:
    cand_opts = [int(i) for i in view.after]
    first_hit = next((k for k, i in enumerate(cand_opts) if i in targets), 0)
    cand = st.selectbox(t("rank.candidate"), cand_opts, index=first_hit, key="candidate",
                        format_func=lambda i: ("🎯 " if i in targets else "") + titles[i])
    av = ins.attention_view(ranker, hist, [cand])
    if av.kind == "dien":
        st.latex(t("rank.latex_dien"))
    else:
        st.latex(t("rank.latex_din"))
    fa = go.Figure(go.Bar(x=hist_labels, y=av.attention[0], name=SYMBOL_A))
    fa.update_layout(title=t("rank.att_title_dien" if av.kind == "dien" else "rank.att_title_din", item=titles[cand]),
                     height=360, margin=dict(t=50), xaxis=dict(tickangle=-45))
    st.plotly_chart(fa, width="stretch", key="attention")
    if av.kind == "dien":
        fg = go.Figure([go.Bar(x=hist_labels, y=av.gate[0], name=t("rank.gate_u")),
                        go.Bar(x=hist_labels, y=av.gate_att[0], name=t("rank.gate_ua"))])
        fg.update_layout(title=t("rank.gate_title", item=titles[cand]), barmode="group", height=380, margin=dict(t=50),
                         xaxis=dict(tickangle=-45), legend=dict(orientation="h", y=1.12))
        st.plotly_chart(fg, width="stretch", key="gates")
        st.caption(t("rank.gate_caption"))
    else:
        st.caption(t("rank.din_caption", total=float(av.attention[0].sum())))

    # -- interest evolution (DIEN Fig. 3) -----------------------------------------------------------------
    if av.kind == "dien":
        st.subheader(t("rank.evolution_header"))
        default = [i for i in cand_opts if i in targets][:2] + [i for i in cand_opts if i not in targets][:2]
        chosen = st.multiselect(t("rank.evolution_targets"), cand_opts, default=default[:4] or cand_opts[:3], key=f"evo_targets_{row}",  # per user: another user's picks are not among these candidates
                                max_selections=5, format_func=lambda i: ("🎯 " if i in targets else "") + titles[i])
        if chosen:
            ev = ins.attention_view(ranker, hist, chosen)
            paths, var = ins.pca_paths([*ev.evolved, ev.baseline])
            fe = go.Figure()
            for i, p in zip(chosen, paths[:-1]):
                fe.add_trace(go.Scatter(x=p[:, 0], y=p[:, 1], mode="lines+markers+text", name=titles[i],
                                        text=[str(s + 1) for s in range(len(p))], textposition="top center"))
            b = paths[-1]
            fe.add_trace(go.Scatter(x=b[:, 0], y=b[:, 1], mode="lines+markers", name=t("rank.baseline"),
                                    line=dict(color="gray", dash="dot")))
            fe.update_layout(title=t("rank.evolution_title"), height=500, margin=dict(t=50),
                             xaxis_title=t("rank.pc", k=1, var=100 * var[0]), yaxis_title=t("rank.pc", k=2, var=100 * var[1]))
            st.plotly_chart(fe, width="stretch", key="evolution")
            st.caption(t("rank.evolution_caption"))
