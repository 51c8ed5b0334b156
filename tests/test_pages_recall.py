"""AppTest of the four recall pages (train, map, routing, nearest) on the synthetic dataset.

Each test asserts on the data behind what is shown (plotly specs, tables, metrics), not just that a
chart exists. A session-scoped set of tiny runs (2 epochs, d = 16) lives in its own runs directory.
"""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from conftest import PAGES

ROOT = Path(__file__).resolve().parents[1]
TINY = dict(dataset="synthetic", seed=0, dim=16, epochs=2)


@pytest.fixture(scope="session")
def tiny_runs(tmp_path_factory):
    """Tiny stored runs of every model the pages show, in a temporary EMBEDLAB_RUNS_DIR."""
    from engine.recsys.run import RecsysConfig, train

    root = tmp_path_factory.mktemp("page_runs")
    old = os.environ.get("EMBEDLAB_RUNS_DIR")
    os.environ["EMBEDLAB_RUNS_DIR"] = str(root)
    runs = {m: train(RecsysConfig(model=m, **TINY), runs_root=root) for m in ("youtubednn", "comirec-sa", "comirec-dr", "mind")}
    runs["mind-short"] = train(RecsysConfig(model="mind", maxlen=5, **TINY), runs_root=root)
    runs["comirec-dr-paper"] = train(RecsysConfig(model="comirec-dr", paper_faithful=True, **TINY), runs_root=root)
    yield runs
    if old is None:
        os.environ.pop("EMBEDLAB_RUNS_DIR", None)
    else:
        os.environ["EMBEDLAB_RUNS_DIR"] = old


def page(path: str) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.run()
    at.switch_page(path).run()
    ok(at)
    return at


def ok(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]


def charts(at: AppTest) -> dict[str, dict]:
    """Plotly specs by chart title."""
    out = {}
    for c in at.get("plotly_chart"):
        spec = json.loads(c.proto.spec)
        out[(spec["layout"].get("title") or {}).get("text", "")] = spec
    return out


def chart(at: AppTest, starts: str) -> dict:
    found = [s for t, s in charts(at).items() if t.startswith(starts)]
    assert found, f"no chart titled {starts!r}; have {list(charts(at))}"
    return found[0]


def arr(v) -> np.ndarray:
    """A plotly array: a list, or plotly's typed array {dtype, bdata, shape}."""
    if isinstance(v, dict) and "bdata" in v:
        a = np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"]))
        return a.reshape([int(s) for s in str(v["shape"]).split(",")]) if "shape" in v else a
    return np.asarray(v)


def select_run(at: AppTest, run) -> AppTest:
    at.selectbox(key="run").set_value(str(run.path)).run()
    ok(at)
    return at


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


# -- train -----------------------------------------------------------------------------------------
def test_train_page_lists_stored_runs_trains_new_ones_and_reuses_them(tiny_runs):
    at = page(f"{PAGES}/train.py")
    table = next(d.value for d in at.dataframe if "Recall@50" in d.value.columns)
    assert set(table["model"]) == {"YouTubeDNN", "ComiRec-SA", "ComiRec-DR", "MIND"}
    dr = tiny_runs["comirec-dr"]
    row = table.loc[table["run"] == dr.path.name].iloc[0]
    assert row["Recall@50"] == pytest.approx(dr.metrics["test/recall@50"])
    # S1 beside recall: the remedy's interest cosine, and which variant each multi-interest run is
    assert row["interest cos"] == pytest.approx(dr.metrics["test/interest_cosine"])
    assert row["remedy"] == "seeded routing"
    assert set(table.loc[table["model"] == "ComiRec-DR", "remedy"]) == {"seeded routing", "paper as written"}
    assert len(arr(chart(at, "Validation Recall@50")["data"][0]["x"])) >= 1

    at.multiselect(key="models").set_value(["gru4rec"])
    at.slider(key="epochs").set_value(2)
    at.select_slider(key="dim").set_value(16)
    at.radio(key="readout").set_value("mean")
    at.button[0].click().run()  # starts a training job (engine/jobs.py) and returns at once
    ok(at)
    from engine.jobs import runner

    [job] = [runner().wait(k, 120) for k in at.session_state["_watched_jobs"]]
    assert job.state == "done" and [h["epoch"] for h in job.history] == [1, 2]  # the live chart's data, per epoch
    at.run()  # the page's fragment reruns the page once the job is done
    ok(at)
    assert any("done, test Recall@50" in s.value for s in at.success)
    table = next(d.value for d in at.dataframe if "Recall@50" in d.value.columns)
    assert (table["model"] == "GRU4Rec").sum() == 1
    assert table.loc[table["model"] == "GRU4Rec", "readout"].iloc[0] == "mean"

    at.button[0].click().run()  # same config again: reused, not retrained
    ok(at)
    assert any("reused" in s.value for s in at.success)
    assert (next(d.value for d in at.dataframe if "Recall@50" in d.value.columns)["model"] == "GRU4Rec").sum() == 1


# -- map -------------------------------------------------------------------------------------------
def test_map_page_shows_every_item_by_topic_and_the_users_history_interests_and_future(tiny_runs):
    run = tiny_runs["mind"]
    at = select_run(page(f"{PAGES}/map.py"), run)
    at.radio(key="map_method").set_value("pca").run()
    ok(at)
    spec = chart(at, "MIND item embeddings (PCA)")
    traces = {t["name"]: t for t in spec["data"]}
    topics = run.split.topic_names
    assert sum(len(arr(traces[n]["x"])) for n in topics) == run.split.n_items  # every item once, one trace per planted topic
    astro = arr(traces[topics[0]]["customdata"]) if not isinstance(traces[topics[0]]["customdata"], list) else traces[topics[0]]["customdata"]
    assert all(str(row[0]).startswith(topics[0]) for row in astro)  # hover carries the title

    row = at.selectbox(key="user").value
    user_hist = run.split.test.hist[row, : run.split.test.lens[row]]
    hist = next(t for n, t in traces.items() if n.startswith("history of user"))
    assert len(arr(hist["x"])) == len(user_hist)
    assert len(arr(traces["held-out future"]["x"])) == len(run.split.test.targets[row])
    assert traces["interest vectors"]["text"][0] == "interest 1"

    at.selectbox(key="user").set_value(row + 1).run()
    ok(at)
    hist2 = next(t for t in chart(at, "MIND item embeddings")["data"] if t["name"].startswith("history of user"))
    assert len(arr(hist2["x"])) == run.split.test.lens[row + 1]

    at.radio(key="map_colour").set_value("popularity").run()
    names = [t["name"] for t in chart(at, "MIND item embeddings")["data"]]
    assert "items" in names and topics[0] not in names

    at.selectbox(key="map_find").set_value(7).run()
    ok(at)
    found = next(t for t in chart(at, "MIND item embeddings")["data"] if t["name"] == "search")
    assert found["text"] == [run.split.item_titles[7]]

    at.radio(key="map_method").set_value("tsne").run()
    ok(at)
    assert chart(at, "MIND item embeddings (t-SNE, perplexity 30)")


# -- routing ---------------------------------------------------------------------------------------
def test_routing_page_heatmap_follows_the_iteration_and_K_sliders(tiny_runs):
    run = tiny_runs["mind"]
    at = select_run(page(f"{PAGES}/routing.py"), run)
    row = at.selectbox(key="user").value
    n = int(run.split.test.lens[row])
    spec = chart(at, "MIND: coupling weights")
    z = arr(spec["data"][0]["z"]).reshape(n, -1)
    assert z.shape == (n, run.config.k)
    np.testing.assert_allclose(z.sum(1), 1.0, atol=1e-5)  # each behaviour's weights sum to one over interests
    assert len(spec["frames"]) == run.config.iterations
    for i, cells in enumerate(spec["data"][0]["text"]):  # bold marks a row's largest weight, where one leads
        assert [j for j, c in enumerate(cells) if c.startswith("<b>")] in ([], [int(z[i].argmax())])
    assert any(c.startswith("<b>") for cells in spec["data"][0]["text"] for c in cells)
    assert spec["data"][0]["y"][0] == f"1. {run.split.item_titles[run.split.test.hist[row, 0]]}"  # rows read by title

    at.slider(key="iters").set_value(6).run()
    ok(at)
    assert len(chart(at, "MIND: coupling weights")["frames"]) == 6
    assert len(arr(chart(at, "Entropy")["data"][0]["y"])) == 6
    at.slider(key="show_iter").set_value(2).run()
    assert "iteration 2 of 6" in next(iter(t for t in charts(at) if t.startswith("MIND: coupling")))

    at.slider(key="k").set_value(2).run()
    ok(at)
    assert len(chart(at, "MIND: coupling weights")["data"][0]["x"]) == 2
    assert any("Dynamic interest count" in m.value for m in at.markdown)
    steps = next(d.value for d in at.dataframe if "einsum" in d.value.columns)
    assert any(f"[1, {n}, 2]" in s for s in steps["shapes"])  # live shapes follow K


def test_routing_page_label_aware_attention_sharpens_with_p(tiny_runs):
    at = select_run(page(f"{PAGES}/routing.py"), tiny_runs["mind"])
    at.slider(key="k").set_value(4).run()
    at.slider(key="p").set_value(0.0).run()
    ok(at)
    flat = arr(chart(at, "attention over interests at p = 0")["data"][0]["y"])
    np.testing.assert_allclose(flat, 1 / len(flat), atol=1e-5)  # p = 0 averages the interests
    at.slider(key="p").set_value(20.0).run()
    sharp = arr(chart(at, "attention over interests at p = 20")["data"][0]["y"])
    assert sharp.max() > flat.max() and sharp.sum() == pytest.approx(1.0, abs=1e-5)


def test_routing_page_comirec_sa_attention_and_planted_interests(tiny_runs):
    run = tiny_runs["comirec-sa"]
    at = select_run(page(f"{PAGES}/routing.py"), run)
    row = at.selectbox(key="user").value
    n = int(run.split.test.lens[row])
    z = arr(chart(at, "ComiRec-SA: attention A")["data"][0]["z"]).reshape(run.config.k, n)
    np.testing.assert_allclose(z.sum(1), 1.0, atol=1e-5)  # each head spreads one unit over the positions
    labels = [m.label for m in at.metric]
    assert "ARI: routing vs planted" in labels and "ARI: k-means vs planted" in labels
    assert -1.0 <= float(metric(at, "ARI: routing vs planted")) <= 1.0


def test_routing_page_says_what_to_change_when_K_exceeds_the_history(tiny_runs):
    at = select_run(page(f"{PAGES}/routing.py"), tiny_runs["mind-short"])  # histories of at most 5 behaviours
    at.slider(key="k").set_value(7).run()
    assert not at.exception
    assert any("lower K" in w.value for w in at.warning)


def test_routing_page_comirec_dr_K_slider_stops_at_the_trained_K(tiny_runs):
    at = select_run(page(f"{PAGES}/routing.py"), tiny_runs["comirec-dr"])
    assert at.slider(key="k").max == tiny_runs["comirec-dr"].config.k
    spec = chart(at, "ComiRec-DR: coupling weights")
    first = spec["frames"][0]["data"][0]["text"]  # seeded routing (the remedy): iteration 1 already leans
    assert any(c.startswith("<b>") for cells in first for c in cells)
    at = select_run(at, tiny_runs["comirec-dr-paper"])
    spec = chart(at, "ComiRec-DR: coupling weights")
    first = spec["frames"][0]["data"][0]["text"]  # as in the paper, iteration 1 starts from b_ij = 0: uniform, no favourite
    assert not any(c.startswith("<b>") for cells in first for c in cells)


def test_routing_page_rejects_a_single_vector_model_with_a_message(tiny_runs):
    at = page(f"{PAGES}/routing.py")
    assert str(tiny_runs["youtubednn"].path) not in at.selectbox(key="run").options


# -- nearest ---------------------------------------------------------------------------------------
def test_nearest_page_item_neighbours_by_ip_and_cosine(tiny_runs):
    run = tiny_runs["mind"]
    at = select_run(page(f"{PAGES}/nearest.py"), run)
    at.selectbox(key="item").set_value(3).run()
    ok(at)
    ip, cos = [d.value for d in at.dataframe if "score" in getattr(d.value, "columns", [])][:2]
    assert len(ip) == 10 and len(cos) == 10
    assert run.split.item_titles[3] not in set(ip["title"]) | set(cos["title"])
    assert list(ip["score"]) == sorted(ip["score"], reverse=True)
    assert cos["score"].max() <= 1.0 + 1e-5


def test_nearest_page_lambda_raises_diversity_and_hits_are_marked(tiny_runs):
    run = tiny_runs["mind"]
    at = select_run(page(f"{PAGES}/nearest.py"), run)
    at.slider(key="n").set_value(50).run()
    d0 = float(metric(at, "Diversity@50"))
    recs = next(d.value for d in at.dataframe if "merged (λ = 0)" in d.value.columns)
    hits = int(metric(at, "hits").split()[0])
    assert sum(str(v).startswith("🎯") for v in recs["merged (λ = 0)"]) == hits
    at.slider(key="lam").set_value(1.0).run()
    ok(at)
    assert float(metric(at, "Diversity@50")) >= d0
    assert any("merged (λ = 1)" in d.value.columns for d in at.dataframe)


def test_nearest_page_indexes_report_latency_and_recall_against_exact(tiny_runs):
    at = select_run(page(f"{PAGES}/nearest.py"), tiny_runs["mind"])
    assert float(metric(at, "index recall@20 vs exact")) == pytest.approx(1.0)  # exact is exact
    at.radio(key="index_kind").set_value("ivf").run()
    at.slider(key="nlist").set_value(8).run()
    at.slider(key="nprobe").set_value(1).run()
    ok(at)
    ivf = float(metric(at, "index recall@20 vs exact"))
    assert 0.0 < ivf <= 1.0
    at.slider(key="nprobe").set_value(8).run()  # every cell probed: exact again
    assert float(metric(at, "index recall@20 vs exact")) == pytest.approx(1.0)
    at.slider(key="nprobe").set_value(20).run()  # nprobe above nlist: a sentence, no traceback
    assert not at.exception
    assert any("nprobe" in w.value and "nlist" in w.value for w in at.warning)
    at.radio(key="index_kind").set_value("hnsw").run()
    ok(at)
    assert metric(at, "latency").endswith("µs")


# -- your own data and MovieLens -------------------------------------------------------------------
def test_an_uploaded_log_becomes_a_dataset_and_the_map_says_it_has_no_titles(tiny_runs):
    from test_data_loaders import _log_bytes

    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    at.file_uploader(key="log_upload").upload("clicks.png", b"\x89PNG\r\n\x1a\n", "image/png").run()
    assert not at.exception and "not a CSV or TSV log" in at.error[0].value
    at.file_uploader(key="log_upload").upload("clicks.csv", _log_bytes(), "text/csv").run()
    assert not at.exception and not at.error
    assert "40 users" in at.success[0].value
    at.button(key="use_upload").click().run()
    assert not at.exception
    dataset = at.session_state["dataset"]  # the sidebar's Dataset box (AppTest keeps app.py's sidebar from the first run only)
    assert dataset.endswith(".csv") and "clicks-" in dataset

    at.session_state["map_method"] = "pca"  # t-SNE is the default; PCA keeps the test short
    at.switch_page(f"{PAGES}/map.py").run()  # nothing trained on this log: the page starts the default MIND as a job
    ok(at)
    from engine.jobs import runner

    for job in runner().active():
        runner().wait(job.key, 300)
    at.run()
    ok(at)
    assert any("no item titles" in i.value for i in at.info)
    assert chart(at, "MIND item embeddings (PCA)")


def test_map_page_colours_movielens_items_by_their_first_genre(tiny_runs):
    from conftest import shared_data_or_skip
    from engine.recsys.run import RecsysConfig, train

    shared_data_or_skip("ml-100k", "u.data")
    run = train(RecsysConfig(model="mind", dataset="ml-100k", seed=0, dim=16, epochs=1), runs_root=os.environ["EMBEDLAB_RUNS_DIR"])
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180).run()
    assert "MovieLens-100K" in at.selectbox(key="dataset").options  # formatted labels
    at.session_state["dataset"] = "ml-100k"
    at.session_state["map_method"] = "pca"
    at.switch_page(f"{PAGES}/map.py").run()
    ok(at)
    select_run(at, run)
    assert at.radio(key="map_colour").options == ["genre", "popularity"]
    spec = chart(at, "MIND item embeddings (PCA)")
    by_genre = {t["name"]: len(arr(t["x"])) for t in spec["data"] if t["name"] in run.split.category_names}
    assert {"Drama", "Comedy", "Action"} <= set(by_genre)
    assert sum(by_genre.values()) == run.split.n_items  # every movie once, under its first listed genre


def test_home_lists_current_runs_but_not_those_of_older_model_code(tiny_runs):
    import shutil

    from conftest import copy_as_older_code

    old = copy_as_older_code(tiny_runs["mind"].path, Path(os.environ["EMBEDLAB_RUNS_DIR"]) / "recsys" / "mind-from-older-code")
    try:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120).run()
        ok(at)
        listed = next(d.value for d in at.dataframe if "Recall@50 / AUC" in d.value.columns)["run"].tolist()
        assert tiny_runs["mind"].path.name in listed and old.name not in listed
    finally:
        shutil.rmtree(old)


# -- interest separation (protocol S1) on the pages -------------------------------------------------
def test_routing_page_shows_the_paper_and_the_remedy_side_by_side_with_each_users_interest_cosines(tiny_runs):
    run = tiny_runs["mind"]
    assert run.config.remedy  # the app's default MIND trains with the remedy
    at = select_run(page(f"{PAGES}/routing.py"), run)
    from engine.jobs import runner

    for job in runner().active():  # the paper-as-written counterpart trains as a shared job on a first visit
        assert runner().wait(job.key, 300).state == "done"
    at.run()
    ok(at)
    row = at.selectbox(key="user").value
    cos = [s for c in at.get("plotly_chart") for s in [json.loads(c.proto.spec)]
           if (s["layout"].get("title") or {}).get("text") == "cosine between interests"]
    assert len(cos) == 2  # the paper as written, and the remedy
    for spec in cos:
        z = arr(spec["data"][0]["z"])
        k = int(np.sqrt(z.size))
        z = z.reshape(k, k)
        np.testing.assert_allclose(np.diag(z), 1.0, atol=1e-5)
        np.testing.assert_allclose(z, z.T, atol=1e-6)
    texts = " ".join(m.value for m in at.markdown)
    assert "as in the paper" in texts and "with the remedy" in texts and "interest cosine" in texts
    # the counterpart run was trained and stored: the paper-as-written MIND of the same config
    from engine.recsys.run import list_runs

    paper = [r for r in list_runs() if r["config"] == run.config.variant(paper=True)]
    assert len(paper) == 1 and "test/interest_cosine" in paper[0]["metrics"]
    # behaviours gathered per interest: every behaviour's weights sum to one, so the interests share all n
    gathered = chart(at, "Behaviours each interest gathers")
    n = int(run.split.test.lens[row])
    total = sum(arr(tr["y"]) for tr in gathered["data"])
    np.testing.assert_allclose(total, n, atol=1e-3)


def test_nearest_page_heads_each_interest_with_its_majority_category_and_purity(tiny_runs):
    at = select_run(page(f"{PAGES}/nearest.py"), tiny_runs["mind"])
    table = next(d.value for d in at.dataframe if any(str(c).startswith("merged (") for c in d.value.columns))
    heads = [c for c in table.columns if str(c).startswith("interest ")]
    assert heads and all(" · " in h and h.endswith("%") for h in heads), heads


def test_map_page_states_the_users_interest_cosine_beside_kmeans(tiny_runs):
    at = select_run(page(f"{PAGES}/map.py"), tiny_runs["mind"])
    assert any("mean pairwise cosine" in m.value and "k-means" in m.value for m in at.markdown)
