"""Honest X-ray evidence: a threshold is chosen on val (runs store their val predictions), Grad-CAM's default map
is at least 6 x 6, the deletion check tells a map that points at the evidence from a random region, and the
higher-resolution MedMNIST+ path (64 px) runs end to end on a small fixture."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from engine.__main__ import main
from engine.data.medmnist import MD5, XrayData, file_name, load_pneumoniamnist
from engine.vision.explain import XrayExplainer, cam_view
from engine.vision.faithfulness import faithfulness, shifted, summarise, top_mask
from engine.vision.gradcam import DEFAULT_CAM_LAYER, grad_cam, grad_cam_batch, map_grid
from engine.vision.metrics import at_threshold, threshold_report, youden_threshold
from engine.vision.model import XrayNet
from engine.vision.train import XrayConfig, load_config, load_model, load_predictions, train
from test_xray_train import xray_data, xray_run  # noqa: F401  (session fixtures)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "assets" / "xray-samples" / "person1946_bacteria_4874.jpeg"


# --- threshold on val -----------------------------------------------------------------------------------------------
def test_a_run_stores_its_val_predictions_with_the_val_labels(xray_run, xray_data):
    prob, y = load_predictions(xray_run, "val")
    assert len(prob) == len(xray_data.labels["val"]) == 524
    assert np.array_equal(y, xray_data.labels["val"]), "val rows in dataset order, with their labels"
    assert np.all((prob >= 0) & (prob <= 1))
    metrics = json.loads((xray_run / "metrics.json").read_text())
    assert at_threshold(prob, y, 0.5)["acc"] == pytest.approx(metrics["val/acc"], abs=1e-5), "the same val numbers as metrics.json"


def test_a_run_saved_before_val_predictions_reads_as_none(xray_run, tmp_path):
    old = shutil.copytree(xray_run, tmp_path / "old-run")
    (old / "val_predictions.csv").unlink()
    assert load_predictions(old, "val") is None
    assert load_predictions(old, "test") is not None


def test_youdens_threshold_on_val_is_at_least_as_good_on_val_as_any_other():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 400)
    prob = 1 / (1 + np.exp(-(2.0 * y - 1.0 + rng.normal(0, 1.2, 400) + 0.8)))  # shifted: 0.5 is not the best cut
    best = youden_threshold(prob, y)
    j = lambda thr: (lambda m: m["sensitivity"] + m["specificity"] - 1)(at_threshold(prob, y, thr))  # noqa: E731
    assert all(j(best) >= j(thr) - 1e-12 for thr in np.linspace(0, 1, 101))
    assert j(best) > j(0.5)


def test_the_threshold_report_shows_val_and_test_at_the_same_threshold(xray_run):
    v, t = load_predictions(xray_run, "val"), load_predictions(xray_run, "test")
    rep = threshold_report(*v, *t, threshold=0.3)
    assert rep["threshold"] == 0.3
    assert rep["val"] == at_threshold(*v, 0.3) and rep["test"] == at_threshold(*t, 0.3)
    assert sum(map(sum, rep["val"]["confusion"])) == 524 and sum(map(sum, rep["test"]["confusion"])) == 624


# --- Grad-CAM resolution -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("strategy, input_size, data_size, at_least", [
    ("partial", 96, 28, 6), ("linear-probe", 96, 64, 6), ("scratch", 0, 28, 7), ("scratch", 0, 64, 16)])
def test_the_default_grad_cam_map_is_at_least_6_by_6(strategy, input_size, data_size, at_least):
    m = XrayNet(strategy, input_size or 64, pretrained=False).eval()
    h, w = map_grid(m, data_size, DEFAULT_CAM_LAYER)
    assert h == w >= at_least
    assert map_grid(m, data_size, "last") < (h, w) < map_grid(m, data_size, "early"), "early is finer, last coarser"


def test_batched_grad_cam_explains_each_image_as_if_alone():
    torch.manual_seed(0)  # the head is freshly initialised: without a seed it depends on the tests that ran before
    m = XrayNet("full", 96, pretrained=True).eval()
    images = np.random.default_rng(0).integers(0, 255, (3, 28, 28), dtype=np.uint8)
    r = grad_cam_batch(m, images, np.array([1, 0, 1]), "mid")
    for i, target in enumerate((1, 0, 1)):
        heat, p = grad_cam(m, images[i], target, "mid")
        assert np.allclose(heat, r.heatmaps[i], atol=1e-5) and p == pytest.approx(r.probabilities[i], abs=1e-6)
    assert r.heatmaps.shape == (3, 28, 28) and np.allclose(r.heatmaps.max(axis=(1, 2)), 1.0)


# --- faithfulness -----------------------------------------------------------------------------------------------
def test_masks_take_the_hottest_pixels_and_the_random_region_keeps_area_and_shape():
    heat = np.zeros((28, 28), np.float32)
    heat[2:6, 3:8] = np.linspace(0.5, 1.0, 20).reshape(4, 5)
    top = top_mask(heat, 20 / 784)
    assert top.sum() == 20 and top[2:6, 3:8].all()
    moved = shifted(top, np.random.default_rng(3))
    assert moved.sum() == 20 and not np.array_equal(moved, top)
    assert any(np.array_equal(np.roll(moved, (dy, dx), axis=(0, 1)), top) for dy in range(28) for dx in range(28)), \
        "the same block, moved"


def blob_data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Grey noise; pneumonia = a bright 6 x 6 blob somewhere (the only evidence)."""
    rng = np.random.default_rng(seed)
    x = rng.normal(110, 12, (n, 28, 28)).clip(0, 255)
    y = (np.arange(n) % 2).astype(np.int64)
    for i in np.flatnonzero(y):
        r, c = rng.integers(3, 19, 2)
        x[i, r : r + 6, c : c + 6] = 235
    return x.astype(np.uint8), y


def test_deleting_the_grad_cam_region_hurts_more_than_a_random_region_when_the_evidence_is_a_blob():
    xs = {s: blob_data(n, seed) for s, n, seed in (("train", 384, 0), ("val", 96, 1), ("test", 96, 2))}
    data = XrayData({s: v[0] for s, v in xs.items()}, {s: v[1] for s, v in xs.items()}, "blobs")
    r = train(XrayConfig(strategy="scratch", epochs=4, batch_size=32, augment=False, threads=1), data=data)
    assert r.metrics["val/auc"] > 0.95, "the small CNN must have learned the blob for the check to mean anything"
    rows = summarise(faithfulness(r.model, xs["val"][0], "mid", (0.1,), seed=0))
    deletion = next(row for row in rows if row["test"] == "deletion")
    assert deletion["difference_lo"] > 0, deletion


# --- MedMNIST+ sizes: the 64 px path end to end on a fixture -------------------------------------------------------
def test_the_medmnist_plus_files_are_known_with_their_zenodo_md5s():
    assert [file_name(s) for s in (28, 64, 128, 224)] == ["pneumoniamnist.npz", "pneumoniamnist_64.npz",
                                                          "pneumoniamnist_128.npz", "pneumoniamnist_224.npz"]
    assert MD5[64] == "8f4eceb4ccffa70c672198ea285246c6" and MD5[224] == "d6a3c71de1b945ea11211b03746c1fe1"


def fixture_64(root: Path, n: int = 12) -> None:
    """A small pneumoniamnist_64.npz in the official layout (uint8 images, (n, 1) labels)."""
    arrays = {}
    for i, s in enumerate(("train", "val", "test")):
        x, y = blob_data(n, 10 + i)
        arrays[f"{s}_images"] = np.kron(x, np.ones((1, 3, 3), np.uint8))[:, 10:74, 10:74]  # (n, 64, 64)
        arrays[f"{s}_labels"] = y.astype(np.uint8)[:, None]
    (root / "medmnist").mkdir(parents=True)
    np.savez(root / "medmnist" / "pneumoniamnist_64.npz", **arrays)


def test_a_64px_medmnist_plus_file_loads_trains_and_predicts_end_to_end(tmp_path, capsys):
    fixture_64(tmp_path / "data")
    data = load_pneumoniamnist(size=64, root=tmp_path / "data", allow_download=False)
    assert data.images["train"].shape == (12, 64, 64) and data.size == 64
    assert any("md5" in w for w in data.warnings), "not the official file: warned, still used"

    out = tmp_path / "run64"
    assert main(["xray", "train", "--strategy", "scratch", "--size", "64", "--data-dir", str(tmp_path / "data"),
                 "--epochs", "1", "--threads", "1", "--out", str(out)]) == 0
    assert load_config(out).data_size == 64
    assert len(load_predictions(out, "val")[0]) == 12
    capsys.readouterr()
    assert main(["xray", "predict", str(SAMPLE), "--run", str(out)]) == 0
    line = json.loads(capsys.readouterr().out.strip())
    assert 0.0 <= line["probability"] <= 1.0 and line["label"] in ("normal", "pneumonia")

    a = XrayExplainer(out).analyse(SAMPLE, "sample")
    assert a.pre.image.shape == (64, 64) and a.heatmap.shape == (64, 64) and a.cam_grid == (16, 16)
    v = cam_view(load_model(out), load_config(out), SAMPLE, "last")
    assert v.grid == (8, 8) and v.image.shape == (64, 64)
