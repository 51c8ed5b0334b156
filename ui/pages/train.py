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
           ("test/diversity@50", "Diversity@50"), ("seconds_per_epoch", "s / epoch")]

st.title("🏋️ Train and compare")
st.markdown("Every model here turns a history into one or $K$ user vectors and is trained as extreme classification "
            "over all items (YouTubeDNN section 3.1, MIND eq. 10–11, ComiRec eq. 9–10); protocol R1 then asks each test user's "
            "vectors to recall their held-out future from all items.")
st.latex(r"\mathcal{L} = -\sum_{(u,i)} \log \frac{\exp(v_u^\top e_i)}{\sum_{j \in \mathcal{I}} \exp(v_u^\top e_j)}")
ch = choice()


with st.form("train_form"):
    c1, c2 = st.columns([2, 1])
    models = c1.multiselect("Models", [m for m in MODELS if m != "mostpop"] + ["mostpop"], default=["mind"], key="models",
                            format_func=MODEL_LABELS.get)
    seeds = c2.multiselect("Seeds (split and training)", list(range(5)), default=[ch.seed], key="seeds",
                           help="R1 reports mean ± std over seeds 0, 1, 2; the sidebar's seed picks the split the other pages show.")
    c = st.columns(4)
    dim = c[0].select_slider("Embedding size d", [8, 16, 32, 64, 128], value=64, key="dim")
    maxlen = c[1].slider("Max sequence length", 5, 50, 20, key="maxlen")
    k = c[2].slider("Interests K (multi-interest)", 1, 8, 4, key="train_k")
    iterations = c[3].slider("Routing iterations (MIND, ComiRec-DR)", 1, 10, 3, key="train_iters")
    c = st.columns(4)
    loss = c[0].radio("Loss", ["softmax", "sampled"], key="loss", format_func={"softmax": "full softmax", "sampled": "sampled softmax"}.get)
    readout = c[1].radio("GRU4Rec readout", ["last", "mean"], key="readout", format_func={"last": "last state", "mean": "mean pooling"}.get)
    epochs = c[2].slider("Epochs (at most; early stopping)", 1, 100, DEFAULT_EPOCHS, key="epochs")
    lr = c[3].select_slider("Learning rate", [1e-4, 3e-4, 1e-3, 3e-3, 1e-2], value=1e-3, key="lr", format_func=lambda x: f"{x:g}")
    go_train = st.form_submit_button("Train (or reuse stored runs)", type="primary")
st.caption("A run is stored under its config hash: asking for the same config again — here, after a restart, or from "
           "`python -m engine recsys train` — reuses it instead of training.")


def config_for(model: str, seed: int) -> RecsysConfig:
    """Only the settings a model uses enter its config, so unrelated widgets never split its hash."""
    kw: dict = dict(model=model, dataset=ch.dataset, seed=seed, maxlen=maxlen, dim=dim, epochs=epochs, lr=lr, loss=loss)
    if model in MULTI:
        kw["k"] = k
    if model in ("mind", "comirec-dr"):
        kw["iterations"] = iterations
    if model == "gru4rec":
        kw["readout"] = readout
    return RecsysConfig(**kw)


if go_train:
    if not models or not seeds:
        st.warning("Pick at least one model and one seed.")
    else:
        keys = []
        for s in seeds:
            for model in models:
                with friendly_errors():
                    cfg = config_for(model, s)
                    title = f"{MODEL_LABELS[model]}, seed {s}"
                    if store.is_complete(store.run_path("recsys", model, cfg)):
                        st.success(f"{title}: already trained with this config — reused.", icon="♻️")
                        continue
                    keys.append(submit_training(cfg, label=t("jobs.train_label", title=title)).key)
        st.session_state[WATCHED_KEY] = keys
if st.session_state.get(WATCHED_KEY):
    watch_jobs(st.session_state[WATCHED_KEY])  # shared jobs: progress redrawn every second, the form stays live

# -- results ----------------------------------------------------------------------------------------
st.subheader(f"Results on {ch.label} (test users, protocol R1)")
runs = stored_runs(ch.dataset, None)
if not runs:
    st.info("No stored runs for this dataset yet: press **Train** above (the defaults take seconds on synthetic data).")
    st.stop()
rows = []
for r in runs:
    c, m = r["config"], r["metrics"]
    rows.append({"model": MODEL_LABELS.get(c.model, c.model), "seed": c.seed, "d": c.dim, "L": c.maxlen,
                 "K": c.k if c.model in MULTI else None, "r": c.iterations if c.model in ("mind", "comirec-dr") else None,
                 "loss": c.loss, "readout": c.readout if c.model == "gru4rec" else None, "lr": c.lr,
                 "epochs": m.get("epochs_run"), **{label: m.get(key) for key, label in METRICS}, "run": r["path"].name})
df = pd.DataFrame(rows)
num = {label: st.column_config.NumberColumn(format="%.4f") for _, label in METRICS}
num["s / epoch"] = st.column_config.NumberColumn(format="%.2f")
st.dataframe(df, hide_index=True, width="stretch", column_config=num, key="results")

setting = ["model", "d", "L", "K", "r", "loss", "readout", "lr"]
agg = df.fillna({"K": 0, "r": 0, "readout": "-"}).groupby(setting, dropna=False)
summary = agg[[label for _, label in METRICS]].agg(["mean", "std"])
counts = agg.size()
if (counts > 1).any():
    st.markdown("**Mean ± std over seeds** (settings trained with more than one seed)")
    out = pd.DataFrame(index=summary.index)
    out["seeds"] = counts
    for _, label in METRICS[:7]:
        out[label] = [f"{mu:.4f} ± {sd:.4f}" if n > 1 else f"{mu:.4f}" for mu, sd, n in
                      zip(summary[(label, "mean")], summary[(label, "std")].fillna(0), counts)]
    st.dataframe(out[counts > 1].reset_index(), hide_index=True, width="stretch", key="summary")

fig = go.Figure()
for r in runs:
    h = store.load_json(r["path"] / "history.json") if (r["path"] / "history.json").exists() else []
    if h:
        fig.add_trace(go.Scatter(x=[e["epoch"] for e in h], y=[e["val/recall@50"] for e in h], mode="lines",
                                 name=f"{MODEL_LABELS.get(r['config'].model)} s{r['config'].seed} · {r['path'].name.rsplit('-', 1)[-1][:6]}"))
fig.update_layout(title="Validation Recall@50 per epoch, every stored run", xaxis_title="epoch", yaxis_title="Recall@50",
                  height=380, margin=dict(t=40))
st.plotly_chart(fig, width="stretch", key="all_curves")
best = df.loc[df["Recall@50"].idxmax()]
st.caption(f"Best Recall@50 so far: {best['model']} (seed {best['seed']}) with {best['Recall@50']:.4f}. "
           "On synthetic data the multi-interest models should beat mean pooling: users there really have several interests.")
