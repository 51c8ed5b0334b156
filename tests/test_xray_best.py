"""The `best` preset (an ensemble of scratch CNNs with test-time augmentation) and the CLI's --fraction."""
from __future__ import annotations

import csv
import json

import numpy as np
import torch

from conftest import shared_data_or_skip
from engine.__main__ import main
from engine.vision.ensemble import TTA_VIEWS, ensemble_logits, member_seeds, tta_logits, view
from engine.vision.model import XrayNet


def test_views_shift_by_whole_pixels_and_repeat_the_edge():
    x = torch.arange(16, dtype=torch.uint8).reshape(1, 4, 4)
    down = view(x, 1, 0, False)[0]
    assert torch.equal(down[1:], x[0, :3]) and torch.equal(down[0], x[0, 0])
    left = view(x, 0, -1, False)[0]
    assert torch.equal(left[:, :3], x[0, :, 1:]) and torch.equal(left[:, 3], x[0, :, 3])
    assert torch.equal(view(x, 0, 0, True)[0], x[0].flip(-1))


def test_tta_without_views_is_the_plain_model_and_with_views_differs():
    torch.manual_seed(0)
    model = XrayNet("scratch").eval()
    images = np.random.default_rng(0).integers(0, 256, (6, 28, 28), dtype=np.uint8)
    with torch.no_grad():
        plain = model(torch.from_numpy(images)).numpy()
    assert np.allclose(tta_logits(model, images, "none"), plain, atol=1e-6)
    assert not np.allclose(tta_logits(model, images, "shift"), plain, atol=1e-4)
    assert len(TTA_VIEWS["shift"]) == 5


def test_ensemble_is_the_mean_logit_and_member_seeds_never_overlap():
    assert np.allclose(ensemble_logits([np.array([1.0, -2.0]), np.array([3.0, 0.0])]), [2.0, -1.0])
    seeds = [set(member_seeds(s)) for s in range(3)]
    assert all(not (seeds[i] & seeds[j]) for i in range(3) for j in range(i + 1, 3))
    assert member_seeds(0) == [0, 1, 2]


def test_cli_best_preset_writes_the_x1_files_on_a_tiny_subset(tmp_path):
    root = shared_data_or_skip("medmnist", "pneumoniamnist.npz").parents[1]
    out = tmp_path / "best"
    assert main(["xray", "train", "--preset", "best", "--data-dir", str(root), "--seed", "1", "--epochs", "1",
                 "--subset", "128", "--threads", "1", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("test/auc", "test/acc", "val/auc", "train_seconds"):
        assert isinstance(metrics[key], float), key
    assert 0.5 < metrics["test/auc"] <= 1.0
    rows = list(csv.reader((out / "test_predictions.csv").open()))
    assert rows[0] == ["index", "probability"] and len(rows) == 625
    config = json.loads((out / "config.json").read_text())
    assert config["preset"] == "best" and config["member_seeds"] == member_seeds(1)
    assert all((out / "members" / str(k) / "model.pt").exists() for k in range(config["members"]))


def test_cli_rejects_a_bad_fraction_with_a_sentence(tmp_path, capsys):
    assert main(["xray", "train", "--fraction", "0", "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert "--fraction" in err and "Traceback" not in err


def test_the_preset_in_the_run_store_is_listed_reused_and_answers_for_one_image_as_in_its_predictions(tmp_path, monkeypatch):
    from engine.data.medmnist import load_pneumoniamnist
    from engine.vision.best_preset import list_presets, preset_view, train_and_save_best
    from engine.vision.benchmark import PRESET_LABEL, comparison_rows
    from engine.vision.train import XrayConfig

    root = shared_data_or_skip("medmnist", "pneumoniamnist.npz").parents[1]
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(root))
    member = XrayConfig(epochs=1, train_subset=128, threads=1)
    out = train_and_save_best(2, member, root=str(tmp_path))
    assert out.parent == tmp_path / "xray-preset" and list_presets(str(tmp_path))[0]["path"] == out
    said = []
    assert train_and_save_best(2, member, root=str(tmp_path), progress=lambda f, m: said.append(m)) == out  # reused
    assert [m.code for m in said] == ["xray_progress_reusing"]
    from engine import jobs

    job_said = jobs.xray_best_work(2, member, str(tmp_path), lambda f, m: None, lambda h: None)  # what the page's job runs
    assert job_said["path"] == str(out) and job_said["test/auc"] == json.loads((out / "metrics.json").read_text())["test/auc"]
    assert jobs.xray_best_key(2, member) != jobs.xray_best_key(3, member)

    image = load_pneumoniamnist(root=str(root)).images["test"][3]
    v = preset_view(out, image)
    stored = [row for row in csv.reader((out / "test_predictions.csv").open())][1 + 3]
    assert stored[0] == "3" and abs(v.probability - float(stored[1])) < 1e-5  # the page's answer is the run's own prediction
    assert v.label == ("pneumonia" if v.probability >= 0.5 else "normal") and len(v.members) == 3
    assert isinstance(preset_view(out, b"not an image"), str)  # a broken upload is a sentence, not a traceback
    rows = comparison_rows([], list_presets(str(tmp_path)))
    assert not any(r["method"] == PRESET_LABEL for r in rows)  # a 128-image preset is not the whole-set row
