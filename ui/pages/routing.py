"""Routing: how MIND and ComiRec-DR route one user's behaviours into K interests, iteration by iteration;
ComiRec-SA's attention; MIND's label-aware attention and dynamic interest count."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from engine.recsys import inspect as ins
from pages.common import MODEL_LABELS, friendly_errors, group_of, pick_run, run_for, user_picker
from pages.i18n import t

MAX_K = 8
P_GRID = np.round(np.linspace(0, 20, 81), 2)

st.title("🔀 " + t("routing.title"))
st.markdown(t("routing.intro"))
st.latex(r"b_{ij} \leftarrow b_{ij} + u_j^\top S e_i,\qquad w_{ij}=\frac{e^{b_{ij}}}{\sum_k e^{b_{ik}}},\qquad "
         r"u_j=\mathrm{squash}\Big(\sum_i w_{ij} S e_i\Big)")

run = pick_run(("mind", "comirec-dr", "comirec-sa"))
split, model, cfg = run.split, run.model, run.config
items = model.item_vectors().detach().numpy()
titles = split.item_titles
name = MODEL_LABELS[cfg.model]
row = user_picker(split.test)
user = ins.user_view(split.test, row)
n = len(user.hist)
beh_labels = [f"{i + 1}. {titles[it]}" for i, it in enumerate(user.hist)]
if n < 2:
    st.warning(t("routing.single_behaviour", user=user.user))
    st.stop()

group, names, what = group_of(split)


@st.fragment
def coupling_view(rv: ins.RoutingView, cols: list[str]) -> None:
    it = st.slider(t("routing.show_iteration"), 1, rv.iterations, rv.iterations, key="show_iter",
                   help=t("routing.show_iteration_help")) if rv.iterations > 1 else 1
    sym = "w_ij" if cfg.model == "mind" else "c_ij"

    def heat(step: int) -> go.Heatmap:
        z, lead = rv.couplings[step], rv.leader(step)
        text = [[f"<b>{v:.2f}</b>" if j == lead[i] else f"{v:.2f}" for j, v in enumerate(row)] for i, row in enumerate(z)]
        return go.Heatmap(z=z, x=cols, y=beh_labels, zmin=0, zmax=1, colorscale="Viridis",
                          colorbar=dict(title=sym), text=text, texttemplate="%{text}",
                          hovertemplate="%{y}<br>%{x}: " + sym + " = %{z:.3f}<extra></extra>")

    fig = go.Figure(data=[heat(it - 1)], frames=[go.Frame(data=[heat(t)], name=str(t + 1)) for t in range(rv.iterations)])
    fig.update_layout(
        title=t("routing.coupling_title", model=name, sym=sym, user=user.user, it=it, total=rv.iterations),
        height=max(360, 26 * n + 140), yaxis=dict(autorange="reversed"), margin=dict(t=60, l=10),
        updatemenus=[dict(type="buttons", x=1.0, y=1.08, xanchor="right", showactive=False, buttons=[
            dict(label="▶ " + t("routing.animate"), method="animate",
                 args=[None, dict(frame=dict(duration=700, redraw=True), fromcurrent=False, transition=dict(duration=0))])])],
        sliders=[dict(active=it - 1, currentvalue=dict(prefix=t("routing.iteration_prefix")), pad=dict(t=30), steps=[
            dict(label=str(t + 1), method="animate", args=[[str(t + 1)], dict(mode="immediate", frame=dict(duration=0, redraw=True))])
            for t in range(rv.iterations)])],
    )
    st.plotly_chart(fig, width="stretch", key="couplings")
    if cfg.model == "mind":
        norm, start = t("routing.mind_eq5"), (
            t("routing.mind_start", sigma=f"{model.sigma:g}"))
    else:
        norm, start = t("routing.comirec_eq3"), (t("routing.dr_start"))
    if cfg.remedy:
        start = t("interests.start_seeded")
    st.caption(t("routing.rows_caption", norm=norm, start=start))


@st.cache_data(max_entries=256, show_spinner=False)
def user_separation(path: str, row: int, _r) -> ins.SeparationView:
    """S1 for the page's user under run `path` (its trained routing): cached per run and user, so a routing slider
    does not recompute the two panels it does not change."""
    rv_r = ins.routing(_r.model, user.hist)
    return ins.separation_for_user(rv_r.interests, rv_r.mask, _r.model.item_vectors().detach().numpy(), user.seen, group)


@st.cache_data(max_entries=256, show_spinner=False)
def user_recovery(path: str, row: int, iterations: int | None, k: int | None, _rv: ins.RoutingView) -> dict:
    """Planted topics vs routing vs k-means for the page's user (k-means with 10 starts): cached per run, user, r and K."""
    return ins.recovery_for_user(model, _rv, user.hist, split.item_topic, seed=cfg.seed)


def separation_panel(r, picked: bool) -> None:
    """One run's interests for the page's user: run-level S1 (test beside validation), the user's K x K cosines, each interest's majority."""
    variant = t("interests.variant_remedy") if r.config.remedy else t("interests.variant_paper")
    st.markdown("**" + (t("interests.this_run", variant=variant) if picked else variant) + "**")
    m = r.metrics
    if "test/interest_cosine" in m:
        cov = t("interests.coverage_part", cov=f"{m['test/topic_coverage']:.2f}") if "test/topic_coverage" in m else ""
        st.markdown(t("interests.run_line", cos=f"{m['test/interest_cosine']:.2f}", val_cos=f"{m.get('val/interest_cosine', float('nan')):.2f}",
                      pur=f"{m['test/interest_purity@10']:.2f}", dis=f"{m['test/interest_distinct']:.2f}", coverage=cov,
                      recall=f"{m['test/recall@50']:.3f}", val_recall=f"{m['val/recall@50']:.3f}"))
    else:
        st.info(t("interests.not_measured"))
    with friendly_errors():
        sv = user_separation(str(r.path), row, r)
    if len(sv.active) < 2:
        st.info(t("interests.single_interest"))
        return
    labels = [str(j + 1) for j in sv.active]
    fig = go.Figure(go.Heatmap(z=sv.cosine, x=labels, y=labels, zmin=-1, zmax=1, colorscale="RdBu_r",
                               text=np.round(sv.cosine, 2), texttemplate="%{text}",
                               colorbar=dict(title=t("interests.cos_short")), hovertemplate=t("interests.cosine_hover")))
    fig.update_layout(title=t("interests.cosine_title"), height=320, margin=dict(t=50, b=10),
                      xaxis=dict(title=t("interests.cosine_axis"), type="category"),
                      yaxis=dict(title=t("interests.cosine_axis"), type="category", autorange="reversed"))
    st.plotly_chart(fig, width="stretch", key=f"interest_cosine_{'picked' if picked else 'other'}")
    st.markdown(t("interests.user_line", cos=f"{sv.mean_cosine:.2f}", distinct=len({x.majority for x in sv.lists}),
                  k=len(sv.active), what=what))
    st.dataframe(pd.DataFrame({
        t("interests.col_interest"): labels,
        t("interests.col_majority", what=what): [names[x.majority] if x.majority >= 0 else "—" for x in sv.lists],
        t("interests.col_purity"): [x.purity for x in sv.lists],
        t("interests.col_top"): [", ".join(titles[i] for i in x.items[:3]) for x in sv.lists],
    }), hide_index=True, width="stretch",
        column_config={t("interests.col_purity"): st.column_config.ProgressColumn(min_value=0.0, max_value=1.0, format="%.1f")})


@st.cache_data(max_entries=32, show_spinner=t("routing.scoring"))
def recovery_all(path: str, iterations: int | None, k: int | None) -> dict:
    from engine.recsys.interest_recovery import interest_recovery

    out = interest_recovery(run.model, run.split, iterations=iterations, k=k, seed=run.config.seed)
    return {key: out[key] for key in ("model_ari", "kmeans_ari", "n_users")}


@st.fragment
def routing_explorer() -> None:
    """The routing sliders and everything they change: the couplings per iteration, their entropy, what each interest
    gathers and retrieves, planted-topic recovery, the einsum steps. Moving a slider reruns this fragment, not the page."""
    if cfg.model == "comirec-sa":
        st.caption(t("routing.sa_caption"))
        k_sa = st.slider(t("routing.sa_k"), 1, model.k, model.k, key="sa_k", bind="query-params",
                         help=t("routing.sa_k_help", k=model.k))
        with friendly_errors():
            rv = ins.routing(model, user.hist, k=k_sa)
        rv_key = (None, k_sa)  # what the routing view depends on besides run and user (caches below)
        fig = go.Figure(go.Heatmap(z=rv.attention, x=beh_labels, y=[t("map.interest_n", n=j + 1) for j in range(rv.k)],
                                   colorscale="Blues", zmin=0, colorbar=dict(title="A")))
        fig.update_layout(title=t("routing.sa_title", model=name, user=user.user), height=260 + 30 * rv.k,
                          xaxis=dict(tickangle=-45), margin=dict(t=50, b=10))
        st.plotly_chart(fig, width="stretch", key="sa_attention")
    else:
        c1, c2 = st.columns(2)
        k_max = MAX_K if cfg.model == "mind" else model.k
        iters = c1.slider(t("routing.iterations"), 1, 10, int(cfg.iterations), key="iters", bind="query-params",
                          help=t("routing.iterations_help", r=cfg.iterations))
        K = c2.slider(t("routing.k"), 1, k_max, int(cfg.k), key="k", bind="query-params",
                      help=(t("routing.k_help_mind")
                            if cfg.model == "mind" else t("routing.k_help_dr", k=model.k)))
        if K > n:
            st.warning(t("routing.k_too_big", k=K, user=user.user, n=n))
            return
        with friendly_errors():
            rv = ins.routing(model, user.hist, iterations=iters, k=K)
        rv_key = (iters, K)
        cols = [t("map.interest_n", n=j + 1) + ("" if rv.mask[j] else t("routing.off")) for j in range(rv.k)]

        coupling_view(rv, cols)

        c1, c2 = st.columns(2)
        ent = rv.entropy()
        uniform = float(np.log(max(1, rv.mask.sum())))
        # reference lines as layout shapes: Figure.add_hline / add_vline cost more than the rest of a small figure
        f1 = go.Figure(go.Scatter(x=list(range(1, rv.iterations + 1)), y=ent, mode="lines+markers", name=t("routing.entropy")), layout=dict(
            title=t("routing.entropy_title"), xaxis_title=t("routing.iteration"), yaxis_title=t("routing.nats"),
            height=320, margin=dict(t=50), yaxis=dict(rangemode="tozero"),
            shapes=[dict(type="line", xref="x domain", x0=0, x1=1, y0=uniform, y1=uniform, line=dict(dash="dot"))],
            annotations=[dict(text=t("routing.uniform"), xref="x domain", x=1, y=uniform, xanchor="right", yanchor="bottom", showarrow=False)]))
        c1.plotly_chart(f1, width="stretch", key="entropy")
        gath = ins.gathered(rv)  # [r, K]
        f2 = go.Figure([go.Scatter(x=list(range(1, rv.iterations + 1)), y=gath[:, j], mode="lines+markers", name=cols[j])
                        for j in range(rv.k) if rv.mask[j]], layout=dict(
            title=t("interests.gathered_title"), xaxis_title=t("interests.iteration"), yaxis_title=t("interests.behaviours"),
            height=320, margin=dict(t=50), yaxis=dict(rangemode="tozero")))
        c2.plotly_chart(f2, width="stretch", key="gathered")
        st.caption(t("interests.gathered_caption", n=n))

        if cfg.model == "mind":
            kd = ins.dynamic_interest_count(n, K)
            st.markdown(t("routing.dynamic_k", formula=f"$K'_u = \\max(1, \\min(K, \\lfloor\\log_2 |I_u|\\rfloor))"
                                                      f" = \\max(1, \\min({K}, \\lfloor\\log_2 {n}\\rfloor)) = {kd}$", kd=kd, k=K))

    # -- each interest's top items ---------------------------------------------------------------------
    st.subheader(t("routing.retrieves"))
    active = np.flatnonzero(rv.mask)
    ids, scores = ins.top_items(rv.interests[active], items, user.seen, n=5)
    st.dataframe(pd.DataFrame({t("map.interest_n", n=j + 1): [titles[i] if i > 0 else "—" for i in ids[a]] for a, j in enumerate(active)},
                              index=pd.Index(range(1, 6), name=t("common.rank"))), width="stretch")
    st.caption(t("routing.top5_caption"))

    # -- planted interests vs routing (synthetic) -----------------------------------------------------
    if split.item_topic is not None:
        st.subheader(t("routing.recovery"))
        with friendly_errors():
            rec = user_recovery(str(run.path), row, *rv_key, rv)
        m1, m2, m3 = st.columns(3)
        m1.metric(t("routing.ari_routing"), f"{rec['ari_routing']:.2f}")
        m2.metric(t("routing.ari_kmeans"), f"{rec['ari_kmeans']:.2f}", help=t("routing.ari_kmeans_help"))
        m3.metric(t("routing.planted_count"), len(set(rec["planted"].tolist())))
        st.dataframe(pd.DataFrame({
            t("routing.col_behaviour"): beh_labels,
            t("common.planted_topic"): [names[tp] for tp in rec["planted"]],
            t("routing.col_routing"): [t("map.interest_n", n=j + 1) for j in rec["routing"]],
            t("routing.col_kmeans"): [t("routing.cluster_n", n=c + 1) for c in rec["kmeans"]],
        }), hide_index=True, width="stretch")
        it_k = (None, None) if cfg.model == "comirec-sa" else (iters, K)
        with friendly_errors():
            allu = recovery_all(str(run.path), *it_k)
        st.markdown(t("routing.recovery_all", n=allu['n_users'], model=f"{allu['model_ari']:.2f}", kmeans=f"{allu['kmeans_ari']:.2f}"))
        st.caption(t("routing.ari_caption"))

    # -- the einsum steps -----------------------------------------------------------------------------
    with st.expander(t("routing.einsum_expander"), expanded=False):
        st.dataframe(pd.DataFrame([{t("routing.col_step"): s["name"], t("routing.col_paper"): s["equation"], "einsum": s["einsum"],
                                    t("routing.col_shapes"): ", ".join(f"{k} {list(v)}" for k, v in s["shapes"].items())} for s in rv.steps]),
                     hide_index=True, width="stretch")
        st.caption(t("routing.letters"))


routing_explorer()

# -- collapse and cure: the paper as written beside the remedy (protocol S1) ------------------------
st.subheader(t("interests.section"))
st.caption(t("interests.section_intro"))
other_cfg = cfg.variant(paper=cfg.remedy)
other_name = t("interests.variant_paper") if cfg.remedy else t("interests.variant_remedy")
other = run_for(other_cfg, t("interests.train_counterpart", variant=other_name))
if other is not None:
    left, right = st.columns(2)
    for col, (r, picked) in zip((left, right), [(other, False), (run, True)] if cfg.remedy else [(run, True), (other, False)]):
        with col:
            separation_panel(r, picked)
    st.caption(t("interests.interests_table_caption", what=what))

# -- label-aware attention: over the interests of the trained routing (r and K as trained, not the sliders above) --
if cfg.model in ("mind", "comirec-dr"):
    with friendly_errors():
        trained = ins.routing(model, user.hist)
    active = np.flatnonzero(trained.mask)
if cfg.model in ("mind", "comirec-dr") and len(active) > 1:
    st.subheader(t("routing.label_aware"))
    st.latex(r"v_u = V_u\,\mathrm{softmax}\big(\mathrm{pow}(V_u^\top e_i,\ p)\big)")
    st.caption(t("routing.label_aware_caption") + " " + t("routing.label_aware_trained", r=cfg.iterations, k=cfg.k))

    @st.fragment
    def attention_view(rv: ins.RoutingView, active: np.ndarray) -> None:
        future = [int(t) for t in user.targets]
        opts = list(dict.fromkeys(future + list(range(1, split.n_items + 1))))
        c1, c2 = st.columns([3, 2])
        target = c1.selectbox(t("routing.target"), opts, key="target",
                              format_func=lambda i: ("🎯 " if i in future else "") + titles[i])
        p = c2.slider("p", 0.0, 20.0, min(20.0, float(cfg.p if cfg.model == "mind" else 2.0)), 0.25, key="p",
                      help=t("routing.p_help", p=cfg.p))
        curve = ins.attention_over_p(rv.interests, rv.mask, items[target], P_GRID)  # [P, K]
        now = ins.attention_over_p(rv.interests, rv.mask, items[target], [p])[0]
        labels = [t("map.interest_n", n=j + 1) for j in active]
        a, b = st.columns(2)
        fb = go.Figure(go.Bar(x=labels, y=now[active], text=np.round(now[active], 3), textposition="outside"), layout=dict(
            title=t("routing.attention_at_p", p=f"{p:g}"), yaxis=dict(range=[0, 1.1], title=t("routing.weight")), height=330, margin=dict(t=50)))
        a.plotly_chart(fb, width="stretch", key="att_bar")
        fl = go.Figure([go.Scatter(x=P_GRID, y=curve[:, j], mode="lines", name=t("map.interest_n", n=j + 1)) for j in active], layout=dict(
            title=t("routing.weights_as_p"), xaxis_title="p", yaxis=dict(range=[0, 1], title=t("routing.weight")), height=330, margin=dict(t=50),
            shapes=[dict(type="line", yref="y domain", x0=p, x1=p, y0=0, y1=1, line=dict(dash="dot"))]))
        b.plotly_chart(fl, width="stretch", key="att_curve")

    attention_view(trained, active)
