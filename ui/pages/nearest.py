"""Nearest items: faiss over a trained model's item embeddings — an item's neighbours, a user's per-interest
recommendations and their merge with ComiRec's greedy diversity lambda, exact vs IVF vs HNSW."""
from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from engine.errors import ConfigError
from engine.recsys import inspect as ins
from engine.recsys.run import encode_users
from engine.retrieval import IndexSpec, VectorIndex
from pages.common import MODEL_LABELS, friendly_errors, group_of, has_titles, item_picker, pick_run, user_picker
from pages.i18n import error_text, t

st.title("🎯 " + t("app.page_nearest"))
st.markdown(t("nearest.intro"))
st.latex(r"Q(u,S)=\sum_{i\in S}\max_k e_i^\top v_u^{(k)} \;+\; \lambda \sum_{i,j\in S}\mathbb{1}[\mathrm{CATE}(i)\neq \mathrm{CATE}(j)]")

run = pick_run(("youtubednn", "gru4rec", "mind", "comirec-dr", "comirec-sa"))
split, model, cfg = run.split, run.model, run.config
items = model.item_vectors().detach().numpy().astype(np.float32)
titles = split.item_titles
group, names, what = group_of(split)
cat_names = split.category_names
if not has_titles(split):
    st.info(t("common.no_titles"))


@st.cache_resource(max_entries=32, show_spinner=False)
def index_for(path: str, spec: IndexSpec, _items: np.ndarray) -> VectorIndex:
    return VectorIndex(_items, spec)


@st.cache_data(max_entries=8, show_spinner=False)
def test_user_vectors(path: str, _model, _hist, _lens) -> tuple[np.ndarray, np.ndarray]:
    return encode_users(_model, _hist, _lens)


@st.cache_data(max_entries=64, show_spinner=t("nearest.timing"))
def quality(path: str, spec: IndexSpec, n: int, _items, _queries, _exclude) -> dict:
    return ins.index_quality(_items, _queries, _exclude, n, spec)


# -- an item's neighbours ---------------------------------------------------------------------------
st.subheader(t("nearest.item_neighbours"))
item = item_picker(split, t("nearest.item"), key="item")


def neighbours(metric: str) -> pd.DataFrame:
    ids, scores = ins.nearest_items(index_for(str(run.path), IndexSpec(metric=metric), items), items, item, 10)
    ok = ids >= 0
    return pd.DataFrame({t("nearest.col_title"): [titles[i] for i in ids[ok]], what: [names[group[i]] for i in ids[ok]],
                         t("nearest.col_score"): scores[ok], t("map.interactions"): split.item_count[ids[ok]]}, index=pd.RangeIndex(1, ok.sum() + 1, name=t("common.rank")))


a, b = st.columns(2)
a.markdown(t("nearest.by_ip"))
a.dataframe(neighbours("ip"), width="stretch", column_config={t("nearest.col_score"): st.column_config.NumberColumn(format="%.3f")})
b.markdown(t("nearest.by_cosine"))
b.dataframe(neighbours("cosine"), width="stretch", column_config={t("nearest.col_score"): st.column_config.NumberColumn(format="%.3f")})
st.caption(t("nearest.picked", title=titles[item], what=what, group=names[group[item]], count=split.item_count[item]))

# -- a user's recommendations -----------------------------------------------------------------------
st.subheader(t("nearest.user_recs"))
uvecs, umask = test_user_vectors(str(run.path), model, split.test.hist, split.test.lens)
exclude_all = [np.concatenate([[0], np.asarray(s, dtype=np.int64)]) for s in split.test.seen]


@st.fragment
def recommendations() -> None:
    row = user_picker(split.test)
    user = ins.user_view(split.test, row)
    c1, c2 = st.columns(2)
    n = c1.slider(t("nearest.n"), 5, 50, 20, 5, key="n")
    lam = c2.slider(t("nearest.lambda"), 0.0, 1.0, 0.0, 0.05, key="lam",
                    help=t("nearest.lambda_help"))
    c1, c2, c3 = st.columns([2, 1, 1])
    kind = c1.radio(t("nearest.index"), ["exact", "ivf", "hnsw"], horizontal=True, key="index_kind",
                    format_func={"exact": t("nearest.exact"), "ivf": "IVF", "hnsw": "HNSW"}.get)
    if kind == "ivf":
        nlist = c2.slider("nlist", 1, 128, 16, key="nlist", help=t("nearest.nlist_help"))
        nprobe = c3.slider("nprobe", 1, 128, 2, key="nprobe", help=t("nearest.nprobe_help"))
        spec = IndexSpec(kind="ivf", nlist=nlist, nprobe=nprobe)
    elif kind == "hnsw":
        m = c2.slider("M", 2, 64, 16, key="hnsw_m", help=t("nearest.m_help"))
        ef = c3.slider("efSearch", 1, 256, 16, key="ef_search", help=t("nearest.ef_help"))
        spec = IndexSpec(kind="hnsw", hnsw_m=m, ef_search=ef)
    else:
        spec = IndexSpec()
    spec_text = {"exact": t("nearest.exact"), "ivf": f"IVF, nlist {spec.nlist}, nprobe {spec.nprobe}",
                 "hnsw": f"HNSW, M {spec.hnsw_m}, efSearch {spec.ef_search}"}[kind]
    try:
        index = index_for(str(run.path), spec, items)
    except ConfigError as e:
        st.warning(error_text(e), icon="⚠️")
        return
    qual = quality(str(run.path), spec, n, items, uvecs.reshape(-1, uvecs.shape[-1])[umask.reshape(-1)],
                   [exclude_all[u] for u in range(len(umask)) for k in range(umask.shape[1]) if umask[u, k]])
    with friendly_errors():
        rec = ins.recommend(uvecs[row], umask[row], items, user.seen, user.targets, n, lam, split.item_category, index)
    m = st.columns(6)
    m[0].metric(f"Recall@{n}", f"{rec.recall:.3f}")
    m[1].metric(f"NDCG@{n}", f"{rec.ndcg:.3f}")
    m[2].metric(f"Diversity@{n}", f"{rec.diversity:.3f}", help=t("nearest.diversity_help"))
    m[3].metric(t("nearest.hits"), t("nearest.hits_value", hits=int(round(rec.recall * len(set(user.targets.tolist())))), total=len(set(user.targets.tolist()))))
    m[4].metric(t("nearest.index_recall", n=n), f"{qual['recall_vs_exact']:.3f}", help=t("nearest.index_recall_help"))
    m[5].metric(t("nearest.latency"), f"{qual['ms_per_query'] * 1000:.0f} µs", help=t("nearest.latency_help", queries=qual['queries']))

    future = set(int(t) for t in user.targets)

    def cell(i: int) -> str:
        return "" if i < 0 else ("🎯 " if i in future else "") + titles[i]

    cols = {}
    active = np.flatnonzero(umask[row])
    sep = (ins.separation_for_user(uvecs[row], umask[row], items, user.seen, group, index_for(str(run.path), IndexSpec(), items))
           if model.multi_interest else None)  # S1 reads exact search, whatever index the slider picked
    for a, k in enumerate(active):
        head = (t("interests.nearest_head", k=k + 1, cat=names[sep.lists[a].majority] if sep.lists[a].majority >= 0 else "—",
                  purity=f"{sep.lists[a].purity:.0%}") if sep is not None else t("map.user_vector"))
        cols[head] = [cell(i) for i in rec.per_interest[k]]
    cols[t("nearest.merged", lam=f"{lam:g}")] = [cell(i) for i in rec.merged]
    cols[t("nearest.merged_what", what=what)] = [cat_names[split.item_category[i]] if i > 0 else "" for i in rec.merged]
    df = pd.DataFrame(cols, index=pd.RangeIndex(1, n + 1, name=t("common.rank")))
    styled = df.style.map(lambda v: "background-color: #d9f2d9; font-weight: 600" if isinstance(v, str) and v.startswith("🎯") else "")
    st.dataframe(styled, width="stretch", height=min(35 * n + 40, 780))
    if sep is not None:
        st.caption(t("interests.nearest_caption", what=what))
    st.caption(t("nearest.recs_caption", spec=spec_text, lam=f"{lam:g}", n=n, user=user.user, future=len(future), active=len(active)))


recommendations()
st.caption(t("nearest.footer", model=MODEL_LABELS[cfg.model], n=split.n_items, dim=cfg.dim))
