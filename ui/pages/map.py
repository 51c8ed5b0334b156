"""Embedding map: t-SNE or PCA of a trained model's item embeddings, with one user's history, interest
vectors and held-out future on the same map."""
from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from engine import projection
from engine.recsys import inspect as ins
from engine.recsys.interests import pairwise_cosine
from engine.recsys.run import encode_users
from pages.common import MODEL_LABELS, friendly_errors, group_of, has_titles, pick_run, user_picker
from pages.i18n import t

PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
           "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363"]

st.title("🗺️ " + t("app.page_map"))
st.markdown(t("map.intro"))

run = pick_run(("youtubednn", "gru4rec", "mind", "comirec-dr", "comirec-sa"))
split, model, cfg = run.split, run.model, run.config
items = model.item_vectors().detach().numpy().astype(np.float32)  # [I+1, d]
titles = split.item_titles
if not has_titles(split):
    st.info(t("common.no_titles"))

c1, c2, c3 = st.columns([1, 1, 1])
method = c1.radio(t("map.projection"), ["tsne", "pca"], key="map_method", horizontal=True, bind="query-params",
                  format_func=lambda m: {"tsne": "t-SNE", "pca": "PCA"}[m])
perplexity = c2.slider(t("map.perplexity"), 5, 50, 30, key="perplexity", disabled=method != "tsne",
                       help=t("map.perplexity_help"))
iterations = c3.slider(t("map.tsne_iterations"), 250, 2000, 750, 250, key="tsne_iter", disabled=method != "tsne")


@st.cache_resource(max_entries=16, show_spinner=t("map.computing"))
def item_map(path: str, method: str, perplexity: int, iterations: int, _items: np.ndarray) -> projection.Map:
    return projection.project(_items[1:], method, perplexity=perplexity, iterations=iterations, seed=0)


with friendly_errors():
    m = item_map(str(run.path), method, perplexity, iterations, items)
if method == "tsne":
    st.caption(t("map.tsne_caption"))
else:
    st.caption(t("map.pca_caption"))

group, names, what = group_of(split)
# SVG markers up to a few thousand items: in a browser without GPU (software WebGL) a Scattergl redraw took 0.5 s per
# view change against 0.2 s for SVG (bench/pages_latency.md); WebGL only for catalogues too big for SVG.
SVG_MAX_POINTS = 5000
Points = go.Scatter if split.n_items <= SVG_MAX_POINTS else go.Scattergl


@st.fragment
def view(m: projection.Map) -> None:
    a, b = st.columns([1, 2])
    colour = a.radio(t("map.colour_by"), [what, t("map.popularity")], key="map_colour", horizontal=True)
    row = user_picker(split.test)
    user = ins.user_view(split.test, row)
    shows = b.pills(t("map.show"), ["history", "interests", "held-out future"], selection_mode="multi", format_func={o: t("map.show_" + o.replace(" ", "_").replace("-", "_")) for o in ("history", "interests", "held-out future")}.get,
                    default=["history", "interests", "held-out future"], key="map_show")
    found = item_picker_search()
    xy = m.xy  # row r = item r+1
    cnt = split.item_count[1:]
    size = 4 + 14 * np.sqrt(cnt / max(1, cnt.max()))
    hover = "%{customdata[0]}<br>" + what + ": %{customdata[1]}<br>" + t("map.interactions") + ": %{customdata[2]}<extra></extra>"
    data = np.stack([np.array(titles[1:], dtype=object), np.array([names[g] if g >= 0 else "—" for g in group[1:]], dtype=object), cnt], 1)
    fig = go.Figure()
    if colour == what:
        for g, name in enumerate(names):
            sel = np.flatnonzero(group[1:] == g)
            if len(sel):
                fig.add_trace(Points(x=xy[sel, 0], y=xy[sel, 1], mode="markers", name=name, customdata=data[sel],
                                           marker=dict(size=size[sel], color=PALETTE[g % len(PALETTE)], opacity=0.55, line=dict(width=0)),
                                           hovertemplate=hover))
    else:
        fig.add_trace(Points(x=xy[:, 0], y=xy[:, 1], mode="markers", name=t("map.items"), customdata=data,
                                   marker=dict(size=size, color=np.log1p(cnt), colorscale="Viridis", opacity=0.6,
                                               colorbar=dict(title=t("map.log_count")), line=dict(width=0)),
                                   hovertemplate=hover))
    h = user.hist - 1
    if "history" in shows:
        fig.add_trace(go.Scatter(x=xy[h, 0], y=xy[h, 1], mode="lines+markers+text", name=t("map.history_of", user=user.user),
                                 text=[str(i + 1) for i in range(len(h))], textposition="top center",
                                 line=dict(color="rgba(0,0,0,0.35)", width=1),
                                 marker=dict(size=11, color=np.arange(len(h)), colorscale="Greys", line=dict(width=1, color="black")),
                                 customdata=data[h], hovertemplate=t("map.step_hover") + ": %{customdata[0]}<extra></extra>"))
    if "held-out future" in shows and len(user.targets):
        tg = user.targets - 1
        fig.add_trace(go.Scatter(x=xy[tg, 0], y=xy[tg, 1], mode="markers", name=t("map.show_held_out_future"),
                                 marker=dict(symbol="x", size=11, color="crimson", line=dict(width=1)),
                                 customdata=data[tg], hovertemplate=t("map.future") + ": %{customdata[0]}<extra></extra>"))
    vecs, mask = encode_users(model, split.test.hist[row:row + 1], split.test.lens[row:row + 1])
    if "interests" in shows:
        v = vecs[0][mask[0]]
        pos = projection.place_extra(v, items[1:], m)
        lab = [t("map.interest_n", n=j + 1) for j in np.flatnonzero(mask[0])] if model.multi_interest else [t("map.user_vector")]
        fig.add_trace(go.Scatter(x=pos[:, 0], y=pos[:, 1], mode="markers+text", name=t("map.interest_vectors"), text=lab,
                                 textposition="bottom center", textfont=dict(size=13, color="black"),
                                 marker=dict(symbol="star", size=22, color="gold", line=dict(width=1.5, color="black")),
                                 hovertemplate="%{text}<extra></extra>"))
    if found is not None:
        fig.add_trace(go.Scatter(x=[xy[found - 1, 0]], y=[xy[found - 1, 1]], mode="markers+text", name=t("map.search"),
                                 text=[titles[found]], textposition="top center",
                                 marker=dict(symbol="circle-open", size=26, color="black", line=dict(width=3))))
    fig.update_layout(height=720, margin=dict(t=40, l=10, r=10, b=10), legend=dict(itemsizing="constant"),
                      title=t("map.title", model=MODEL_LABELS[cfg.model], method=t("map.tsne_perplexity", perplexity=perplexity) if m.method == 'tsne' else 'PCA',
                              n=split.n_items, colour=colour))
    fig.update_xaxes(showticklabels=False, title=None)
    fig.update_yaxes(showticklabels=False, title=None, scaleanchor="x")
    st.plotly_chart(fig, width="stretch", key="item_map")
    if model.multi_interest:
        k_u = int(mask[0].sum())
        if k_u < 2:
            st.markdown(t("interests.map_single", user=user.user))
        else:
            km, _ = ins_kmeans(str(run.path), row, k_u)
            st.markdown(t("interests.map_line", user=user.user, k=k_u, cos=f"{pairwise_cosine(vecs[0][mask[0]]):.2f}",
                          km=f"{pairwise_cosine(km):.2f}"))
    st.caption(t("map.legend_caption", n=len(h)))


@st.cache_data(max_entries=256, show_spinner=False)
def ins_kmeans(path: str, row: int, k: int):
    """k-means (k clusters) on this user's history item vectors (run `path`): S1's reference for the map's line."""
    from engine.recsys.interests import kmeans_interests

    one = split.test
    sub = type(one)(users=one.users[row:row + 1], hist=one.hist[row:row + 1], lens=one.lens[row:row + 1],
                    targets=one.targets[row:row + 1], seen=one.seen[row:row + 1])
    vecs, mask = kmeans_interests(items, sub, np.array([k]), seed=cfg.seed)
    return vecs[0][mask[0]], mask[0]


def item_picker_search() -> int | None:
    opts = list(range(1, split.n_items + 1))
    return st.selectbox(t("map.find"), opts, index=None, key="map_find", placeholder=t("map.find_placeholder"),
                        format_func=lambda i: titles[i])


view(m)
