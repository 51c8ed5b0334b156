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

st.title("🎯 Nearest items")
st.markdown("Serving a recall model is a nearest-neighbour search: each user vector $v_u^{(k)}$ asks faiss for the items "
            "with the largest $v_u^{(k)\\top} e_i$. ComiRec merges the $K$ lists greedily, trading score for diversity:")
st.latex(r"Q(u,S)=\sum_{i\in S}\max_k e_i^\top v_u^{(k)} \;+\; \lambda \sum_{i,j\in S}\mathbb{1}[\mathrm{CATE}(i)\neq \mathrm{CATE}(j)]")

run = pick_run(("youtubednn", "gru4rec", "mind", "comirec-dr", "comirec-sa"))
split, model, cfg = run.split, run.model, run.config
items = model.item_vectors().detach().numpy().astype(np.float32)
titles = split.item_titles
group, names, what = group_of(split)
cat_names = split.category_names
if not has_titles(split):
    st.info("This dataset has no item titles, so items are shown by their id. Add a `title` column to the log to read names here.")


@st.cache_resource(max_entries=32, show_spinner=False)
def index_for(path: str, spec: IndexSpec, _items: np.ndarray) -> VectorIndex:
    return VectorIndex(_items, spec)


@st.cache_data(max_entries=8, show_spinner=False)
def test_user_vectors(path: str, _model, _hist, _lens) -> tuple[np.ndarray, np.ndarray]:
    return encode_users(_model, _hist, _lens)


@st.cache_data(max_entries=64, show_spinner="Timing the index against exact search…")
def quality(path: str, spec: IndexSpec, n: int, _items, _queries, _exclude) -> dict:
    return ins.index_quality(_items, _queries, _exclude, n, spec)


# -- an item's neighbours ---------------------------------------------------------------------------
st.subheader("An item's nearest items")
item = item_picker(split, "Item", key="item")


def neighbours(metric: str) -> pd.DataFrame:
    ids, scores = ins.nearest_items(index_for(str(run.path), IndexSpec(metric=metric), items), items, item, 10)
    ok = ids >= 0
    return pd.DataFrame({"title": [titles[i] for i in ids[ok]], what: [names[group[i]] for i in ids[ok]],
                         "score": scores[ok], "interactions": split.item_count[ids[ok]]}, index=pd.RangeIndex(1, ok.sum() + 1, name="rank"))


a, b = st.columns(2)
a.markdown("**by inner product** $e_i^\\top e_j$")
a.dataframe(neighbours("ip"), width="stretch", column_config={"score": st.column_config.NumberColumn(format="%.3f")})
b.markdown("**by cosine** $\\frac{e_i^\\top e_j}{\\|e_i\\|\\|e_j\\|}$")
b.dataframe(neighbours("cosine"), width="stretch", column_config={"score": st.column_config.NumberColumn(format="%.3f")})
st.caption(f"Picked: **{titles[item]}** ({what}: {names[group[item]]}, {split.item_count[item]} interactions). Inner product "
           "favours items with long vectors, often the popular ones; cosine only looks at direction.")

# -- a user's recommendations -----------------------------------------------------------------------
st.subheader("A user's recommendations, per interest and merged")
uvecs, umask = test_user_vectors(str(run.path), model, split.test.hist, split.test.lens)
exclude_all = [np.concatenate([[0], np.asarray(s, dtype=np.int64)]) for s in split.test.seen]


@st.fragment
def recommendations() -> None:
    row = user_picker(split.test)
    user = ins.user_view(split.test, row)
    c1, c2 = st.columns(2)
    n = c1.slider("N (list length)", 5, 50, 20, 5, key="n")
    lam = c2.slider("λ (ComiRec's greedy diversity)", 0.0, 1.0, 0.0, 0.05, key="lam",
                    help="0 merges by best score (the R1 protocol); larger values prefer items whose category differs from those already picked.")
    c1, c2, c3 = st.columns([2, 1, 1])
    kind = c1.radio("Index", ["exact", "ivf", "hnsw"], horizontal=True, key="index_kind",
                    format_func={"exact": "exact (flat)", "ivf": "IVF", "hnsw": "HNSW"}.get)
    if kind == "ivf":
        nlist = c2.slider("nlist", 1, 128, 16, key="nlist", help="k-means cells the items are split into.")
        nprobe = c3.slider("nprobe", 1, 128, 2, key="nprobe", help="Cells searched per query; at most nlist.")
        spec = IndexSpec(kind="ivf", nlist=nlist, nprobe=nprobe)
    elif kind == "hnsw":
        m = c2.slider("M", 2, 64, 16, key="hnsw_m", help="Links per node in the graph.")
        ef = c3.slider("efSearch", 1, 256, 16, key="ef_search", help="Candidates kept while searching.")
        spec = IndexSpec(kind="hnsw", hnsw_m=m, ef_search=ef)
    else:
        spec = IndexSpec()
    spec_text = {"exact": "exact (flat)", "ivf": f"IVF, nlist {spec.nlist}, nprobe {spec.nprobe}",
                 "hnsw": f"HNSW, M {spec.hnsw_m}, efSearch {spec.ef_search}"}[kind]
    try:
        index = index_for(str(run.path), spec, items)
    except ConfigError as e:
        st.warning(str(e), icon="⚠️")
        return
    qual = quality(str(run.path), spec, n, items, uvecs.reshape(-1, uvecs.shape[-1])[umask.reshape(-1)],
                   [exclude_all[u] for u in range(len(umask)) for k in range(umask.shape[1]) if umask[u, k]])
    with friendly_errors():
        rec = ins.recommend(uvecs[row], umask[row], items, user.seen, user.targets, n, lam, split.item_category, index)
    m = st.columns(6)
    m[0].metric(f"Recall@{n}", f"{rec.recall:.3f}")
    m[1].metric(f"NDCG@{n}", f"{rec.ndcg:.3f}")
    m[2].metric(f"Diversity@{n}", f"{rec.diversity:.3f}", help="Share of item pairs in the merged list whose categories differ.")
    m[3].metric("hits", f"{int(round(rec.recall * len(set(user.targets.tolist()))))} of {len(set(user.targets.tolist()))}")
    m[4].metric(f"index recall@{n} vs exact", f"{qual['recall_vs_exact']:.3f}", help="Over every test user's interest vectors.")
    m[5].metric("latency", f"{qual['ms_per_query'] * 1000:.0f} µs", help=f"per query, over the {qual['queries']} test-user interest vectors")

    future = set(int(t) for t in user.targets)

    def cell(i: int) -> str:
        return "" if i < 0 else ("🎯 " if i in future else "") + titles[i]

    cols = {}
    active = np.flatnonzero(umask[row])
    for k in active:
        cols["interest %d" % (k + 1) if model.multi_interest else "user vector"] = [cell(i) for i in rec.per_interest[k]]
    cols[f"merged (λ = {lam:g})"] = [cell(i) for i in rec.merged]
    cols[f"merged {what}"] = [cat_names[split.item_category[i]] if i > 0 else "" for i in rec.merged]
    df = pd.DataFrame(cols, index=pd.RangeIndex(1, n + 1, name="rank"))
    styled = df.style.map(lambda v: "background-color: #d9f2d9; font-weight: 600" if isinstance(v, str) and v.startswith("🎯") else "")
    st.dataframe(styled, width="stretch", height=min(35 * n + 40, 780))
    st.caption(f"Index: {spec_text} · merged with λ = {lam:g} · top {n}. 🎯 green: an item user {user.user} really consumed later (held out, {len(future)} items). "
               f"Per-interest columns are what each of the {len(active)} interest vector(s) retrieves alone; the merged list keeps "
               "the best score per item (λ = 0), or ComiRec's greedy pick. Raise λ and watch Diversity rise, and often Recall fall.")


recommendations()
st.caption(f"Model: {MODEL_LABELS[cfg.model]}, {split.n_items} items, d = {cfg.dim}. Latency and recall are measured here, "
           "on this machine, for one query at a time in a batch of all test users' vectors.")
