"""AppTest of the /rank page on synthetic data: before/after slope chart, DIEN's attention and AUGRU gates,
the interest-evolution PCA, DIN's un-normalised weights, and the auxiliary-loss slider over stored runs."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from test_pages_recall import arr, chart, charts, ok
from conftest import PAGES

ROOT = Path(__file__).resolve().parents[1]
TINY_RANK = dict(dataset="synthetic", seed=0, dim=8, cat_dim=4, epochs=1)


@pytest.fixture(scope="module")
def rank_runs(tmp_path_factory):
    from engine.rank.run import RankConfig, train as train_rank
    from engine.recsys.run import RecsysConfig, train as train_recall

    root = tmp_path_factory.mktemp("rank_page_runs")
    old = os.environ.get("EMBEDLAB_RUNS_DIR")
    os.environ["EMBEDLAB_RUNS_DIR"] = str(root)
    runs = {"recall": train_recall(RecsysConfig(model="mind", dataset="synthetic", seed=0, dim=16, epochs=2), runs_root=root)}
    for name, kw in {"dien": dict(model="dien"), "dien-noaux": dict(model="dien", aux_weight=0.0), "din": dict(model="din")}.items():
        runs[name] = train_rank(RankConfig(**TINY_RANK, **kw), runs_root=root)
    yield runs
    if old is None:
        os.environ.pop("EMBEDLAB_RUNS_DIR", None)
    else:
        os.environ["EMBEDLAB_RUNS_DIR"] = old


def rank_page() -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
    at.run()
    at.switch_page(f"{PAGES}/rank.py").run()
    ok(at)
    return at


def test_rank_page_shows_where_each_held_out_item_moved_and_dien_attention_and_gates(rank_runs):
    from engine.rank.protocol import recall_candidates, two_stage

    split = rank_runs["recall"].split
    top50 = recall_candidates(rank_runs["recall"].model, split.test, 50)
    hits = [len(set(c) & set(t)) for c, t in zip(top50, split.test.targets)]
    row = int(np.argmax(hits))  # the test user with the most held-out items among the 50 candidates
    at = rank_page()
    at.selectbox(key="user").set_value(row).run()
    ok(at)
    targets = {split.item_titles[i] for i in split.test.targets[row]}
    slope = chart(at, "Where each candidate moved (top 50")
    red = [tr for tr in slope["data"] if tr["line"]["color"] == "crimson"]
    assert len(red) == hits[row] and all(tr["name"] in targets for tr in red)  # one red line per held-out item recalled
    for tr in slope["data"]:
        y = arr(tr["y"])
        assert 1 <= y.min() and y.max() <= 50

    n = int(split.test.lens[row])
    att = chart(at, "DIEN attention a_t")
    a = arr(att["data"][0]["y"])
    assert len(a) == n and a.sum() == pytest.approx(1.0, abs=1e-4)  # softmax over the user's real steps
    gates = chart(at, "AUGRU update gates")
    u, ua = arr(gates["data"][0]["y"]), arr(gates["data"][1]["y"])
    np.testing.assert_allclose(ua, a * u, rtol=1e-4, atol=1e-6)  # u~'_t = a_t u'_t (the unit mean is linear)
    evo = chart(at, "PCA of the AUGRU states")
    names = [tr["name"] for tr in evo["data"]]
    assert len(names) == len(at.multiselect(key=f"evo_targets_{row}").value) + 1 and "no target" in names[-1]
    assert all(len(arr(tr["x"])) == n for tr in evo["data"])  # one point per behaviour

    summary = next(d.value for d in at.dataframe if "re-ranked" in d.value.columns)  # val and test, whole split
    for r, es in enumerate((split.val, split.test)):
        ts = two_stage(rank_runs["dien"].model, rank_runs["recall"].model, es).metrics
        assert summary["recall order"].iloc[r] == pytest.approx(ts["ndcg@10_recall_only"])
        assert summary["re-ranked"].iloc[r] == pytest.approx(ts["ndcg@10"])
    assert summary["ranker alone, all items"].tolist() == pytest.approx([rank_runs["dien"].metrics["val/ndcg@10_all"],
                                                                          rank_runs["dien"].metrics["test/ndcg@10_all"]])

    at.slider(key="n_cand").set_value(20).run()
    ok(at)
    assert all(arr(tr["y"]).max() <= 20 for tr in chart(at, "Where each candidate moved (top 20")["data"])


def test_rank_page_alpha_slider_switches_between_stored_dien_runs_and_din_has_no_softmax(rank_runs):
    at = rank_page()
    assert at.select_slider(key="alpha").options == ["0", "1"]
    auc1 = next(m.value for m in at.metric if m.label == "test AUC 1:1")
    assert auc1 == f"{rank_runs['dien'].metrics['test/auc']:.3f}"
    at.select_slider(key="alpha").set_value(0.0).run()
    ok(at)
    assert next(m.value for m in at.metric if m.label == "test AUC 1:1") == f"{rank_runs['dien-noaux'].metrics['test/auc']:.3f}"

    at.radio(key="ranker").set_value("din").run()
    ok(at)
    assert "DIN activation weights" in " ".join(charts(at))
    assert not any(t.startswith("PCA of") for t in charts(at))
    assert any("not to 1" in c.value for c in at.caption)

    at.radio(key="ranker").set_value("base").run()  # no stored BaseModel: the page trains a small one as a shared job
    ok(at)
    assert any("No stored run of this ranker" in i.value for i in at.info)
    from engine.jobs import rank_key, runner
    from engine.rank.run import app_default

    key = rank_key(app_default("synthetic", 0, "base"))
    job = runner().get(key)
    assert job is not None  # the page returned at once; the training runs outside its script run
    assert runner().cancel(key, at.session_state["_job_owner"])  # its owner (this session) may cancel it
    assert runner().wait(key, 300).state == "cancelled"
    at.run()
    ok(at)
    assert any("was cancelled" in w.value for w in at.warning)  # nothing stored, nothing half-written: train again
    at.button(key="rank-train-again").click().run()
    ok(at)
    job = runner().get(key)
    assert runner().wait(key, 300).state == "done" and job.history and "val/ndcg@10_all" in job.history[-1]
    at.run()  # the page's fragment reruns the page once the job is done
    ok(at)
    assert any("no attention" in i.value for i in at.info)
