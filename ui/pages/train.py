"""Train and compare: pick recall models and hyperparameters, train under protocol R1 with live curves,
and compare every stored run of the dataset (from this page or the CLI)."""
from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from engine import store
from engine.recsys.run import MODELS, RecsysConfig
from pages.common import (DEFAULT_EPOCHS, MODEL_LABELS, WATCHED_KEY, choice, friendly_errors, stored_runs, submit_training,
                          watch_jobs)
from pages.i18n import t

MULTI = ("mind", "comirec-dr", "comirec-sa")
METRICS = [("test/recall@20", "Recall@20"), ("test/ndcg@20", "NDCG@20"), ("test/hitrate@20", "HitRate@20"),
           ("test/recall@50", "Recall@50"), ("test/ndcg@50", "NDCG@50"), ("test/hitrate@50", "HitRate@50"),
           ("test/diversity@50", "Diversity@50"), ("test/interest_cosine", t("interests.home_cos")),
           ("test/interest_distinct", t("interests.metric_distinct")), ("test/topic_coverage", t("interests.metric_cov")),
           ("seconds_per_epoch", t("train.s_per_epoch"))]

st.title("🏋️ " + t("app.page_train"))
st.markdown(t("train.intro"))
st.latex(r"\mathcal{L} = -\sum_{(u,i)} \log \frac{\exp(v_u^\top e_i)}{\sum_{j \in \mathcal{I}} \exp(v_u^\top e_j)}")
ch = choice()


with st.form("train_form"):
    c1, c2 = st.columns([2, 1])
    models = c1.multiselect(t("train.models"), [m for m in MODELS if m != "mostpop"] + ["mostpop"], default=["mind"], key="models",
                            format_func=MODEL_LABELS.get)
    seeds = c2.multiselect(t("train.seeds"), list(range(5)), default=[ch.seed], key="seeds",
                           help=t("train.seeds_help"))
    c = st.columns(4)
    dim = c[0].select_slider(t("train.dim"), [8, 16, 32, 64, 128], value=64, key="dim")
    maxlen = c[1].slider(t("train.maxlen"), 5, 50, 20, key="maxlen")
    k = c[2].slider(t("train.k"), 1, 8, 4, key="train_k")
    iterations = c[3].slider(t("train.iterations"), 1, 10, 3, key="train_iters")
    c = st.columns(4)
    loss = c[0].radio(t("train.loss"), ["softmax", "sampled"], key="loss", format_func={"softmax": t("train.full_softmax"), "sampled": t("train.sampled_softmax")}.get)
    readout = c[1].radio(t("train.readout"), ["last", "mean"], key="readout", format_func={"last": t("train.last_state"), "mean": t("train.mean_pooling")}.get)
    epochs = c[2].slider(t("train.epochs"), 1, 100, DEFAULT_EPOCHS, key="epochs")
    lr = c[3].select_slider(t("train.lr"), [1e-4, 3e-4, 1e-3, 3e-3, 1e-2], value=1e-3, key="lr", format_func=lambda x: f"{x:g}")
    paper = st.toggle(t("interests.paper_faithful"), value=False, key="paper_faithful", help=t("interests.paper_faithful_help"))
    go_train = st.form_submit_button(t("train.submit"), type="primary")
st.caption(t("train.hash_caption"))


def config_for(model: str, seed: int) -> RecsysConfig:
    """Only the settings a model uses enter its config, so unrelated widgets never split its hash."""
    kw: dict = dict(model=model, dataset=ch.dataset, seed=seed, maxlen=maxlen, dim=dim, epochs=epochs, lr=lr, loss=loss)
    if model in MULTI:
        kw["k"] = k
        kw["paper_faithful"] = paper
    if model in ("mind", "comirec-dr"):
        kw["iterations"] = iterations
    if model == "gru4rec":
        kw["readout"] = readout
    return RecsysConfig(**kw)


if go_train:
    if not models or not seeds:
        st.warning(t("train.pick_one"))
    else:
        keys = []
        for s in seeds:
            for model in models:
                with friendly_errors():
                    cfg = config_for(model, s)
                    title = t("train.run_title", model=MODEL_LABELS[model], seed=s)
                    if store.is_complete(store.run_path("recsys", model, cfg)):
                        st.success(t("train.reused", title=title), icon="♻️")
                        continue
                    keys.append(submit_training(cfg, label=t("jobs.train_label", title=title)).key)
        st.session_state[WATCHED_KEY] = keys
if st.session_state.get(WATCHED_KEY):
    watch_jobs(st.session_state[WATCHED_KEY])  # shared jobs: progress redrawn every second, the form stays live

# -- results ----------------------------------------------------------------------------------------
st.subheader(t("train.results", dataset=ch.label))
runs = stored_runs(ch.dataset, None)
if not runs:
    st.info(t("train.no_runs"))
    st.stop()
rows = []
for r in runs:
    c, m = r["config"], r["metrics"]
    rows.append({"model": MODEL_LABELS.get(c.model, c.model), "seed": c.seed, "d": c.dim, "L": c.maxlen,
                 "K": c.k if c.model in MULTI else None, "r": c.iterations if c.model in ("mind", "comirec-dr") else None,
                 "loss": c.loss, "readout": c.readout if c.model == "gru4rec" else None, "lr": c.lr,
                 t("interests.remedy_label"): (t("interests.remedy_yes") if c.remedy else t("interests.remedy_no")) if c.model in MULTI else None,
                 "epochs": m.get("epochs_run"), **{label: m.get(key) for key, label in METRICS}, "run": r["path"].name})
df = pd.DataFrame(rows)
num = {label: st.column_config.NumberColumn(format="%.4f") for _, label in METRICS}
num[METRICS[-1][1]] = st.column_config.NumberColumn(format="%.2f")
headers = {c: t(f"train.col_{c}") for c in ("model", "seed", "loss", "readout", "epochs", "run")}
st.dataframe(df.rename(columns=headers), hide_index=True, width="stretch", column_config=num, key="results")

setting = ["model", "d", "L", "K", "r", "loss", "readout", "lr", t("interests.remedy_label")]
agg = df.fillna({"K": 0, "r": 0, "readout": "-", t("interests.remedy_label"): "-"}).groupby(setting, dropna=False)
summary = agg[[label for _, label in METRICS]].agg(["mean", "std"])
counts = agg.size()
if (counts > 1).any():
    st.markdown(t("train.mean_std"))
    out = pd.DataFrame(index=summary.index)
    out[t("train.col_seeds")] = counts
    for _, label in METRICS[:-1]:
        out[label] = ["–" if pd.isna(mu) else f"{mu:.4f} ± {sd:.4f}" if n > 1 else f"{mu:.4f}" for mu, sd, n in
                      zip(summary[(label, "mean")], summary[(label, "std")].fillna(0), counts)]
    st.dataframe(out[counts > 1].reset_index().rename(columns=headers), hide_index=True, width="stretch", key="summary")

fig = go.Figure()
for r in runs:
    h = store.load_json(r["path"] / "history.json") if (r["path"] / "history.json").exists() else []
    if h:
        fig.add_trace(go.Scatter(x=[e["epoch"] for e in h], y=[e["val/recall@50"] for e in h], mode="lines",
                                 name=t("train.trace", model=MODEL_LABELS.get(r['config'].model), seed=r['config'].seed, run=r['path'].name.rsplit('-', 1)[-1][:6])))
fig.update_layout(title=t("train.curves_title"), xaxis_title=t("common.epoch"), yaxis_title="Recall@50",
                  height=380, margin=dict(t=40))
st.plotly_chart(fig, width="stretch", key="all_curves")
best = df.loc[df["Recall@50"].idxmax()]
st.caption(t("train.best", model=best['model'], seed=best['seed'], recall=f"{best['Recall@50']:.4f}"))
