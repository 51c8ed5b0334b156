"""Routing: how MIND and ComiRec-DR route one user's behaviours into K interests, iteration by iteration;
ComiRec-SA's attention; MIND's label-aware attention and dynamic interest count."""
from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from engine.recsys import inspect as ins
from pages.common import MODEL_LABELS, friendly_errors, group_of, pick_run, user_picker

MAX_K = 8
P_GRID = np.round(np.linspace(0, 20, 81), 2)

st.title("🔀 Routing: how behaviours become interests")
st.markdown(
    "MIND and ComiRec-DR treat each item in a history as a *behaviour capsule* $e_i$ and route it to $K$ *interest "
    "capsules* by agreement: a behaviour sends more of its weight to the interests it already agrees with, for a few "
    "iterations. ComiRec-SA gets its $K$ interests from $K$ attention heads instead."
)
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
    st.warning(f"User {user.user} has a single behaviour in the model's window: there is nothing to route. Pick another user.")
    st.stop()

if cfg.model == "comirec-sa":
    st.caption("ComiRec-SA (eq. 6-7): $A = \\mathrm{softmax}(W_2^\\top \\tanh(W_1 H))^\\top$, $V_u = HA$ — each of the "
               "K heads spreads weight over the behaviours (rows of A sum to one over positions, not over interests).")
    k_sa = st.slider("K (attention heads used)", 1, model.k, model.k, key="sa_k", bind="query-params",
                     help=f"This ComiRec-SA was trained with {model.k} heads; fewer keeps the first ones.")
    with friendly_errors():
        rv = ins.routing(model, user.hist, k=k_sa)
    fig = go.Figure(go.Heatmap(z=rv.attention, x=beh_labels, y=[f"interest {j + 1}" for j in range(rv.k)],
                               colorscale="Blues", zmin=0, colorbar=dict(title="A")))
    fig.update_layout(title=f"{name}: attention A (K × L) of user {user.user}", height=260 + 30 * rv.k,
                      xaxis=dict(tickangle=-45), margin=dict(t=50, b=10))
    st.plotly_chart(fig, width="stretch", key="sa_attention")
else:
    c1, c2 = st.columns(2)
    k_max = MAX_K if cfg.model == "mind" else model.k
    iters = c1.slider("Routing iterations r", 1, 10, int(cfg.iterations), key="iters", bind="query-params",
                      help="Recomputed live with the trained weights; the model was trained with r = %d." % cfg.iterations)
    K = c2.slider("Interests K", 1, k_max, int(cfg.k), key="k", bind="query-params",
                  help=("MIND shares one map S, so any K up to 8 works at inference."
                        if cfg.model == "mind" else f"ComiRec-DR has one map W_ij per interest: at most the trained K = {model.k}."))
    if K > n:
        st.warning(f"K = {K} is more than user {user.user}'s {n} behaviours: lower K to at most {n}, or pick a user with a longer history.")
        st.stop()
    with friendly_errors():
        rv = ins.routing(model, user.hist, iterations=iters, k=K)
    cols = [f"interest {j + 1}" + ("" if rv.mask[j] else " (off)") for j in range(rv.k)]

    @st.fragment
    def coupling_view(rv: ins.RoutingView, cols: list[str]) -> None:
        it = st.slider("Show iteration", 1, rv.iterations, rv.iterations, key="show_iter",
                       help="Which iteration's couplings the heatmap shows; ▶ animates them all.") if rv.iterations > 1 else 1
        sym = "w_ij" if cfg.model == "mind" else "c_ij"

        def heat(t: int) -> go.Heatmap:
            z, lead = rv.couplings[t], rv.leader(t)
            text = [[f"<b>{v:.2f}</b>" if j == lead[i] else f"{v:.2f}" for j, v in enumerate(row)] for i, row in enumerate(z)]
            return go.Heatmap(z=z, x=cols, y=beh_labels, zmin=0, zmax=1, colorscale="Viridis",
                              colorbar=dict(title=sym), text=text, texttemplate="%{text}",
                              hovertemplate="%{y}<br>%{x}: " + sym + " = %{z:.3f}<extra></extra>")

        fig = go.Figure(data=[heat(it - 1)], frames=[go.Frame(data=[heat(t)], name=str(t + 1)) for t in range(rv.iterations)])
        fig.update_layout(
            title=f"{name}: coupling weights {sym} of user {user.user}, iteration {it} of {rv.iterations}",
            height=max(360, 26 * n + 140), yaxis=dict(autorange="reversed"), margin=dict(t=60, l=10),
            updatemenus=[dict(type="buttons", x=1.0, y=1.08, xanchor="right", showactive=False, buttons=[
                dict(label="▶ animate iterations", method="animate",
                     args=[None, dict(frame=dict(duration=700, redraw=True), fromcurrent=False, transition=dict(duration=0))])])],
            sliders=[dict(active=it - 1, currentvalue=dict(prefix="iteration "), pad=dict(t=30), steps=[
                dict(label=str(t + 1), method="animate", args=[[str(t + 1)], dict(mode="immediate", frame=dict(duration=0, redraw=True))])
                for t in range(rv.iterations)])],
        )
        st.plotly_chart(fig, width="stretch", key="couplings")
        if cfg.model == "mind":
            norm, start = "MIND eq. 5", (
                f"MIND starts from small Gaussian logits (sigma = {model.sigma:g}), so iteration 1 is almost uniform; agreement then "
                "tilts each behaviour toward the interest it agrees with most. After 3 iterations the tilt is often slight: the "
                "largest weight in a row (bold) marks the interest the behaviour is heading for; raise r to watch the rows commit.")
        else:
            norm, start = "ComiRec eq. 3", ("ComiRec-DR starts from b_ij = 0, so iteration 1 is uniform; agreement then pulls each "
                                            "behaviour toward one interest (bold: a row's largest weight, where one leads).")
        st.caption(f"Each row is a behaviour (oldest first) and sums to one over the user's interests ({norm}). {start}")

    coupling_view(rv, cols)

    c1, c2 = st.columns(2)
    ent = rv.entropy()
    f1 = go.Figure(go.Scatter(x=list(range(1, rv.iterations + 1)), y=ent, mode="lines+markers", name="entropy"))
    f1.add_hline(y=float(np.log(max(1, rv.mask.sum()))), line_dash="dot", annotation_text="uniform: log K'")
    f1.update_layout(title="Entropy of a behaviour's couplings (mean, nats)", xaxis_title="iteration", yaxis_title="nats",
                     height=320, margin=dict(t=50), yaxis=dict(rangemode="tozero"))
    c1.plotly_chart(f1, width="stretch", key="entropy")
    f2 = go.Figure([go.Scatter(x=list(range(1, rv.iterations + 1)), y=rv.capsule_lengths[:, j], mode="lines+markers", name=cols[j])
                    for j in range(rv.k)])
    f2.update_layout(title="Capsule length |u_j| (squash keeps it below 1)", xaxis_title="iteration", height=320,
                     margin=dict(t=50), yaxis=dict(range=[0, 1]))
    c2.plotly_chart(f2, width="stretch", key="lengths")
    st.caption("Lower entropy: behaviours have made up their minds. A long capsule is an interest many behaviours agree on.")

    if cfg.model == "mind":
        kd = ins.dynamic_interest_count(n, K)
        st.markdown(f"**Dynamic interest count** (MIND eq. 9): $K'_u = \\max(1, \\min(K, \\lfloor\\log_2 |I_u|\\rfloor))"
                    f" = \\max(1, \\min({K}, \\lfloor\\log_2 {n}\\rfloor)) = {kd}$ — this user gets {kd} of the {K} interests; "
                    "the others are switched off (no behaviour routes to them).")

# -- each interest's top items ---------------------------------------------------------------------
st.subheader("What each interest retrieves")
active = np.flatnonzero(rv.mask)
ids, scores = ins.top_items(rv.interests[active], items, user.seen, n=5)
st.dataframe(pd.DataFrame({f"interest {j + 1}": [titles[i] if i > 0 else "—" for i in ids[a]] for a, j in enumerate(active)},
                          index=pd.Index(range(1, 6), name="rank")), width="stretch")
st.caption("Top 5 items by inner product with each interest vector, never an item the user has already seen.")

# -- label-aware attention ------------------------------------------------------------------------
if cfg.model in ("mind", "comirec-dr") and len(active) > 1:
    st.subheader("Label-aware attention (MIND section 3.4)")
    st.latex(r"v_u = V_u\,\mathrm{softmax}\big(\mathrm{pow}(V_u^\top e_i,\ p)\big)")
    st.caption("In training, the target item $e_i$ picks which interests it is explained by. p = 0 averages them, larger p "
               "sharpens toward the closest one; p → ∞ is ComiRec's argmax. (We read pow(score, p) as p·score inside the "
               "softmax, see engine/recsys/mind.py.)")

    @st.fragment
    def attention_view(rv: ins.RoutingView, active: np.ndarray) -> None:
        future = [int(t) for t in user.targets]
        opts = list(dict.fromkeys(future + list(range(1, split.n_items + 1))))
        c1, c2 = st.columns([3, 2])
        target = c1.selectbox("Target item e_i (the user's held-out future first)", opts, key="target",
                              format_func=lambda i: ("🎯 " if i in future else "") + titles[i])
        p = c2.slider("p", 0.0, 20.0, float(cfg.p if cfg.model == "mind" else 2.0), 0.25, key="p",
                      help="The attention power; MIND trains with p = %s." % (cfg.p,))
        curve = ins.attention_over_p(rv.interests, rv.mask, items[target], P_GRID)  # [P, K]
        now = ins.attention_over_p(rv.interests, rv.mask, items[target], [p])[0]
        labels = [f"interest {j + 1}" for j in active]
        a, b = st.columns(2)
        fb = go.Figure(go.Bar(x=labels, y=now[active], text=np.round(now[active], 3), textposition="outside"))
        fb.update_layout(title=f"attention over interests at p = {p:g}", yaxis=dict(range=[0, 1.1], title="weight"),
                         height=330, margin=dict(t=50))
        a.plotly_chart(fb, width="stretch", key="att_bar")
        fl = go.Figure([go.Scatter(x=P_GRID, y=curve[:, j], mode="lines", name=f"interest {j + 1}") for j in active])
        fl.add_vline(x=p, line_dash="dot")
        fl.update_layout(title="weights as p grows", xaxis_title="p", yaxis=dict(range=[0, 1], title="weight"), height=330, margin=dict(t=50))
        b.plotly_chart(fl, width="stretch", key="att_curve")

    attention_view(rv, active)

@st.cache_data(max_entries=32, show_spinner="Scoring every test user's routing against the planted topics…")
def recovery_all(path: str, iterations: int | None, k: int | None) -> dict:
    from engine.recsys.interest_recovery import interest_recovery

    out = interest_recovery(run.model, run.split, iterations=iterations, k=k, seed=run.config.seed)
    return {key: out[key] for key in ("model_ari", "kmeans_ari", "n_users")}


# -- planted interests vs routing (synthetic) -----------------------------------------------------
group, names, what = group_of(split)
if split.item_topic is not None:
    st.subheader("Does routing find the planted interests?")
    with friendly_errors():
        rec = ins.recovery_for_user(model, rv, user.hist, split.item_topic, seed=cfg.seed)
    m1, m2, m3 = st.columns(3)
    m1.metric("ARI: routing vs planted", f"{rec['ari_routing']:.2f}")
    m2.metric("ARI: k-means vs planted", f"{rec['ari_kmeans']:.2f}", help="k-means on the same behaviour embeddings, k = the user's interest count")
    m3.metric("planted interests of this user", len(set(rec["planted"].tolist())))
    st.dataframe(pd.DataFrame({
        "behaviour": beh_labels,
        "planted topic": [names[t] for t in rec["planted"]],
        "routing's interest": [f"interest {j + 1}" for j in rec["routing"]],
        "k-means cluster": [f"cluster {c + 1}" for c in rec["kmeans"]],
    }), hide_index=True, width="stretch")
    it_k = (None, None) if cfg.model == "comirec-sa" else (iters, K)
    with friendly_errors():
        allu = recovery_all(str(run.path), *it_k)
    st.markdown(f"Over all **{allu['n_users']}** test users with two or more planted interests: routing's mean ARI "
                f"**{allu['model_ari']:.2f}**, k-means' **{allu['kmeans_ari']:.2f}** (same behaviour embeddings, same k).")
    st.caption("Adjusted Rand index: 1 = the same grouping as the planted topics, about 0 = chance. Routing's interest "
               "is where a behaviour sends most of its weight (last iteration; for SA, the head attending to it most).")

# -- the einsum steps -----------------------------------------------------------------------------
with st.expander("Each step as einsum, with the live tensor shapes", expanded=False):
    st.dataframe(pd.DataFrame([{"step": s["name"], "paper": s["equation"], "einsum": s["einsum"],
                                "shapes": ", ".join(f"{k} {list(v)}" for k, v in s["shapes"].items())} for s in rv.steps]),
                 hide_index=True, width="stretch")
    st.caption("Letters: b batch (one user here), l behaviour position, k interest, d/e embedding, a attention hidden size.")
