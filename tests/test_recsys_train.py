"""Training under R1 on small synthetic data: every model learns, runs are reproducible and
self-describing (metrics recomputable from test_embeddings.npz), the CLI works end to end, and
MIND's routing recovers well-separated planted interests."""
from __future__ import annotations

import json

import numpy as np
import pytest

from engine.__main__ import main
from engine.data.synthetic import SyntheticConfig
from engine.recsys.interest_recovery import interest_recovery
from engine.recsys.run import MODELS, RecsysConfig, load_run, recompute_metrics, split_of, train

SMALL = SyntheticConfig(n_users=300, n_items=160, n_topics=6, min_len=10, max_len=30, seed=0)
FAST = dict(dataset="synthetic", synthetic=SMALL, seed=0, dim=32, maxlen=20, epochs=6, patience=3, batch_size=256, lr=5e-3)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    return {m: train(RecsysConfig(model=m, **FAST), runs_root=root) for m in MODELS}


def test_every_learned_model_beats_most_popular_on_synthetic_data(runs):
    pop = runs["mostpop"].metrics["test/recall@50"]
    for name, run in runs.items():
        if name != "mostpop":
            assert run.metrics["test/recall@50"] > pop + 0.05, (name, run.metrics["test/recall@50"], pop)
            assert run.metrics["test/ndcg@50"] > runs["mostpop"].metrics["test/ndcg@50"], name


def test_run_directory_holds_config_weights_metrics_and_numeric_embeddings(runs):
    run = runs["mind"]
    for f in ("config.json", "model.pt", "metrics.json", "history.json", "test_embeddings.npz"):
        assert (run.path / f).exists(), f
    m = json.loads((run.path / "metrics.json").read_text())
    for key in ("test/recall@50", "test/ndcg@50", "test/hitrate@50", "test/recall@20", "val/recall@50", "seconds_per_epoch", "peak_rss_mb"):
        assert key in m and m[key] >= 0
    with np.load(run.path / "test_embeddings.npz", allow_pickle=False) as z:  # no pickled objects
        assert set(z.files) >= {"user_ids", "user_vectors", "item_vectors", "item_raw_ids"}
        assert z["user_vectors"].shape == (len(run.split.test.users), 4, 32)
        assert z["item_vectors"].shape == (run.split.n_items + 1, 32)
        assert np.array_equal(z["user_ids"], run.split.test.users)
        # MIND's dynamic count: an interest a user does not have is an all-zero row
        missing = ~z["interest_mask"]
        assert np.all(z["user_vectors"][missing] == 0)


def test_a_run_of_older_model_code_is_neither_listed_nor_loaded(runs, tmp_path):
    from conftest import copy_as_older_code
    from engine.errors import ConfigError
    from engine.recsys.run import list_runs

    old = copy_as_older_code(runs["mind"].path, tmp_path / "recsys" / "mind-old")
    assert [r["path"] for r in list_runs(tmp_path)] == []
    with pytest.raises(ConfigError, match="older version"):
        load_run(old)


@pytest.mark.parametrize("name", list(MODELS))
def test_test_metrics_are_recomputable_from_the_saved_embeddings_alone(runs, name):
    run = runs[name]
    split = split_of(RecsysConfig.from_dict(json.loads((run.path / "config.json").read_text())))
    again = recompute_metrics(run.path / "test_embeddings.npz", split)
    for key, value in again.items():
        assert run.metrics[f"test/{key}"] == pytest.approx(value, abs=1e-9), key


def test_a_stored_run_is_reused_and_loads_back_in_eval_mode(runs, tmp_path):
    run = runs["youtubednn"]
    again = train(run.config, runs_root=run.path.parent.parent)
    assert again.path == run.path and again.metrics == run.metrics
    loaded = load_run(run.path)
    assert not loaded.model.training and loaded.history and loaded.config == run.config


def test_same_seed_same_numbers(tmp_path):
    cfg = RecsysConfig(model="comirec-dr", **{**FAST, "epochs": 2})
    a = train(cfg, out=tmp_path / "a")
    b = train(cfg, out=tmp_path / "b")
    drop = ("seconds_per_epoch", "train_seconds", "peak_rss_mb")
    assert {k: v for k, v in a.metrics.items() if k not in drop} == {k: v for k, v in b.metrics.items() if k not in drop}
    assert np.array_equal(np.load(tmp_path / "a/test_embeddings.npz")["user_vectors"], np.load(tmp_path / "b/test_embeddings.npz")["user_vectors"])


def test_cli_trains_on_synthetic_data_end_to_end(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["recsys", "train", "--model", "gru4rec", "--readout", "mean", "--dataset", "synthetic", "--syn-users", "200",
               "--syn-items", "120", "--seed", "1", "--dim", "16", "--epochs", "2", "--quiet", "--out", str(out)])
    assert rc == 0
    printed = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert printed["path"] == str(out)
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model"] == "gru4rec" and cfg["readout"] == "mean" and cfg["synthetic"]["n_users"] == 200 and cfg["seed"] == 1
    assert json.loads((out / "metrics.json").read_text())["test/recall@50"] > 0


def test_cli_explains_a_bad_setting_in_a_sentence(capsys):
    rc = main(["recsys", "train", "--model", "mind", "--dataset", "synthetic", "--k", "0", "--quiet"])
    assert rc == 2 and "at least 1" in capsys.readouterr().err


# Topics as bags of items (order 0: no chain inside a topic), no noise: well-separated topics.
SEPARATED = dict(n_users=1500, n_items=160, n_topics=6, noise=0.0, order=0.0, min_len=16, max_len=30)


@pytest.fixture(scope="module", params=["paper", "remedy"])
def recovery(request, tmp_path_factory):
    """MIND's routing (as in the paper, and with the remedy) and k-means against the planted topics,
    on three draws of separated data."""
    root, out = tmp_path_factory.mktemp("recovery"), []
    for seed in (0, 1, 2):
        syn = SyntheticConfig(**SEPARATED, seed=seed)
        cfg = RecsysConfig(model="mind", **{**FAST, "synthetic": syn, "seed": seed, "epochs": 8, "weight_decay": 1e-3})
        cfg = cfg.variant(paper=request.param == "paper")
        out.append(interest_recovery(train(cfg, runs_root=root).model, split_of(cfg)))
    return request.param, out


def test_mind_routing_sorts_behaviours_into_planted_interests_about_as_well_as_kmeans(recovery):
    # With S ~ N(0, 1/d) and sigma = 1 this was ~0.1 against k-means' ~0.5 (see engine/recsys/mind.py).
    _, recovery = recovery
    model = np.mean([r["model_ari"] for r in recovery])
    kmeans = np.mean([r["kmeans_ari"] for r in recovery])
    assert all(r["n_users"] >= 50 for r in recovery)
    assert model >= 0.9 * kmeans, (model, kmeans)


def test_mind_routing_recovers_well_separated_planted_interests(recovery):
    # The bar set for the paper's routing with its scale (S_GAIN, sigma): mean ARI of the argmax couplings
    # against the planted topics, users with 2+ interests. The remedy is held to k-means (above).
    variant, recovery = recovery
    if variant == "remedy":
        pytest.skip("the remedy's routing is held to k-means' ARI, not to this bar")
    assert np.mean([r["model_ari"] for r in recovery]) >= 0.5, [round(r["model_ari"], 3) for r in recovery]


def test_sampled_softmax_with_log_q_correction_also_learns(runs, tmp_path):
    run = train(RecsysConfig(model="youtubednn", loss="sampled", n_negatives=64, **FAST), out=tmp_path / "sampled")
    assert run.metrics["test/recall@50"] > runs["mostpop"].metrics["test/recall@50"] + 0.05


def test_bench_writes_a_mean_and_std_table_with_the_command(tmp_path, monkeypatch):
    import sys

    monkeypatch.chdir(tmp_path)
    argv = ["recsys", "bench", "--dataset", "synthetic", "--syn-users", "120", "--syn-items", "80", "--seeds", "0", "1",
            "--models", "mostpop", "mind", "--dim", "16", "--epochs", "1", "--bench-dir", str(tmp_path / "bench"),
            "--runs-dir", str(tmp_path / "runs"), "--jobs", "2", "--table", "tiny"]
    monkeypatch.setattr(sys, "argv", ["python -m engine", *argv])
    assert main(argv) == 0
    text = (tmp_path / "bench" / "tiny.md").read_text()
    assert "python -m engine recsys bench --dataset synthetic" in text
    assert "2 at a time" in text and "alone on the machine" in text and "SyntheticConfig(n_users=120" in text
    assert "| mind |" in text and "±" in text and "Interest recovery" in text and "peak RSS MB" in text


def test_bench_on_validation_users_reports_the_numbers_model_selection_saw(tmp_path, monkeypatch):
    import json
    import sys

    monkeypatch.chdir(tmp_path)
    argv = ["recsys", "bench", "--dataset", "synthetic", "--syn-users", "120", "--syn-items", "80", "--seeds", "0",
            "--models", "youtubednn", "--dim", "16", "--epochs", "2", "--bench-dir", str(tmp_path / "bench"),
            "--runs-dir", str(tmp_path / "runs"), "--table", "val", "--split", "val"]
    monkeypatch.setattr(sys, "argv", ["python -m engine", *argv])
    assert main(argv) == 0
    text = (tmp_path / "bench" / "val.md").read_text()
    assert "VALIDATION users" in text and "not a held-out estimate" in text
    metrics = json.loads(next((tmp_path / "runs").rglob("metrics.json")).read_text())
    row = next(line for line in text.splitlines() if line.startswith("| youtubednn |"))
    assert row.split(" | ")[4].startswith(f"{metrics['val/recall@50']:.4f}")  # the validation column, not the test one
    assert metrics["val/recall@50"] != metrics["test/recall@50"]
