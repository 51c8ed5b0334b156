"""Training on small subsets: one epoch runs end to end, a seed fixes the result, the run directory and the
CLI keep their contract (X1 test predictions in dataset order; predict never prints a traceback)."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from conftest import shared_data_or_skip
from engine.__main__ import main
from engine.vision.train import XrayConfig, train, train_and_save

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "assets" / "xray-samples" / "person1946_bacteria_4874.jpeg"
TINY = XrayConfig(strategy="linear-probe", seed=0, epochs=8, train_subset=300)


@pytest.fixture(scope="session")
def xray_data():
    from engine.data.medmnist import load_pneumoniamnist

    root = shared_data_or_skip("medmnist", "pneumoniamnist.npz").parents[1]
    return load_pneumoniamnist(root=root, allow_download=False)


@pytest.fixture(scope="session")
def xray_run(runs_root, xray_data) -> Path:
    """One tiny linear-probe run (300 training images) in the session's runs dir, shared by the X-ray tests."""
    return train_and_save(TINY, root=str(runs_root), data=xray_data)


def test_tiny_run_directory_holds_everything_the_app_reads(xray_run):
    for name in ("config.json", "model.pt", "metrics.json", "history.json", "evaluation.json", "embeddings.npz",
                 "test_predictions.csv"):
        assert (xray_run / name).exists(), name
    metrics = json.loads((xray_run / "metrics.json").read_text())
    assert all(isinstance(v, float) for v in metrics.values()), "metrics.json is flat"
    assert 0.5 < metrics["test/auc"] <= 1.0 and 0.0 <= metrics["test/specificity"] <= 1.0
    assert 1 <= metrics["best_epoch"] <= 8


def test_one_epoch_of_full_fine_tuning_on_a_small_subset(xray_data):
    cfg = XrayConfig(strategy="full", epochs=1, train_subset=96, batch_size=32, input_size=64)
    r = train(cfg, data=xray_data)
    assert len(r.history) == 1 and np.isfinite(r.history[0]["train_loss"])
    assert len(r.test_probabilities) == 624 and np.all((0 <= r.test_probabilities) & (r.test_probabilities <= 1))
    assert r.embeddings["train"].shape == (96, 1280)
    assert r.metrics["test/auc"] > 0.5


def test_training_is_deterministic_for_a_seed(xray_data):
    cfg = XrayConfig(strategy="scratch", epochs=1, train_subset=128, batch_size=32)
    a, b = train(cfg, data=xray_data), train(cfg, data=xray_data)
    c = train(XrayConfig(strategy="scratch", epochs=1, train_subset=128, batch_size=32, seed=1), data=xray_data)
    assert np.array_equal(a.test_probabilities, b.test_probabilities)
    assert not np.array_equal(a.test_probabilities, c.test_probabilities)


def test_cli_train_writes_the_x1_files(tmp_path):
    root = shared_data_or_skip("medmnist", "pneumoniamnist.npz").parents[1]
    out = tmp_path / "run"
    assert main(["xray", "train", "--strategy", "linear-probe", "--data-dir", str(root), "--seed", "0",
                 "--epochs", "3", "--subset", "200", "--out", str(out)]) == 0
    assert (out / "model.pt").exists() and (out / "config.json").exists()
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("test/auc", "test/acc", "test/sensitivity", "test/specificity", "val/auc", "val/acc", "train_seconds"):
        assert isinstance(metrics[key], float), key
    assert 0.0 <= metrics["test/acc"] <= 1.0, "fractions, not percentages"
    rows = list(csv.reader((out / "test_predictions.csv").open()))
    assert rows[0] == ["index", "probability"]
    assert [int(r[0]) for r in rows[1:]] == list(range(624)), "one row per X1 test image, in dataset order"


def test_cli_predict_answers_each_file_in_order_and_never_crashes(xray_run, tmp_path, capsys):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 20)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    capsys.readouterr()
    assert main(["xray", "predict", str(SAMPLE), str(bad), str(tmp_path / "missing.png"), str(empty),
                 "--run", str(xray_run)]) == 0
    out, err = capsys.readouterr()
    lines = [json.loads(line) for line in out.strip().splitlines()]
    assert [d["file"] for d in lines] == [str(SAMPLE), str(bad), str(tmp_path / "missing.png"), str(empty)]
    assert set(lines[0]) == {"file", "probability", "label", "ood"} and lines[0]["label"] in ("normal", "pneumonia")
    assert 0.0 <= lines[0]["probability"] <= 1.0 and isinstance(lines[0]["ood"], bool)
    assert all("error" in d and d["error"] for d in lines[1:])
    assert "Traceback" not in out + err


def test_cli_predict_without_a_run_says_how_to_make_one(tmp_path, capsys):
    assert main(["xray", "predict", str(SAMPLE), "--run", str(tmp_path / "nothing")]) == 2
    assert "xray train" in capsys.readouterr().err
