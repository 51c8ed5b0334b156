"""The X-ray page's evidence views under AppTest, in English and Chinese: the threshold is chosen on val (test is
one final line), every stored run sits beside the published rows, Grad-CAM says how coarse its map is, and an
image is shown through every stored strategy side by side. A run saved before val predictions gets a message."""
from __future__ import annotations

import re
import shutil

import pytest

from conftest import PAGES, shared_data_or_skip
from test_i18n import open_page
from test_xray_train import xray_data, xray_run  # noqa: F401  (session fixtures)

GRID = re.compile(r"(\d+) x (\d+)")


@pytest.fixture
def page_env(monkeypatch, xray_run):
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(shared_data_or_skip("medmnist", "pneumoniamnist.npz").parents[1]))
    monkeypatch.setenv("EMBEDLAB_RUNS_DIR", str(xray_run.parents[1]))
    return xray_run


def markdown(at) -> str:
    return " ".join(m.value for m in at.markdown)


def test_the_threshold_is_chosen_on_val_and_test_is_one_final_line(page_env):
    at = open_page(f"{PAGES}/xray.py", lang="en")
    assert not at.exception, at.exception
    labels = [m.label for m in at.metric]
    assert {"val sensitivity", "val specificity", "val ACC"} <= set(labels)
    assert any(c.value.startswith("The ROC curve, the slider and the confusion matrix use the val split") for c in at.caption)
    lines = [m.value for m in at.markdown if "Final report on test" in m.value]
    assert len(lines) == 1 and "threshold 0.50" in lines[0]

    button = at.button(key="xray_youden")
    suggested = float(re.search(r"\((\d\.\d\d)\)", button.label).group(1))
    button.click().run()
    assert not at.exception
    assert at.slider(key="xray_threshold").value == pytest.approx(suggested)
    assert f"threshold {suggested:.2f}" in markdown(at), "the test line follows the threshold chosen on val"


def test_every_run_sits_beside_the_published_rows_including_automl(page_env):
    at = open_page(f"{PAGES}/xray.py", lang="en")
    summary = next(d.value for d in at.dataframe if "source" in d.value.columns)
    methods = summary["method"].tolist()
    assert "Google AutoML Vision" in methods and "ResNet-50 (224)" in methods and "auto-sklearn" in methods
    every_run = next(d.value for d in at.dataframe if "px" in d.value.columns)
    assert {"val AUC", "test AUC"} <= set(every_run.columns) and len(every_run) == 1, "the tiny run, val beside test"
    chart = next(c for c in at.get("plotly_chart") if "Every stored run" in c.proto.spec)
    assert "Google AutoML Vision (published)" in chart.proto.spec and "val" in chart.proto.spec


def test_grad_cam_states_its_map_size_and_the_layer_can_be_changed(page_env):
    at = open_page(f"{PAGES}/xray.py", lang="en")
    caption = next(c.value for c in at.caption if c.value.startswith("Heat map from the"))
    h, w = map(int, GRID.search(caption).groups())
    assert h >= 6 and w >= 6, caption
    at.radio(key="xray_cam_layer").set_value("last").run()
    assert not at.exception
    caption = next(c.value for c in at.caption if c.value.startswith("Heat map from the"))
    assert GRID.search(caption).groups() == ("3", "3"), "the paper's last layer is 3 x 3 here, and the page says so"


def test_an_image_is_shown_through_every_stored_strategy(page_env, xray_data, tmp_path):
    from engine.vision.train import XrayConfig, train_and_save

    root = page_env.parents[1]
    train_and_save(XrayConfig(strategy="scratch", epochs=1, train_subset=200, batch_size=32), root=str(root), data=xray_data)
    at = open_page(f"{PAGES}/xray.py", lang="en")
    assert not at.exception, at.exception
    assert "Every stored strategy on this image" in markdown(at)
    side = at.dataframe[-1].value
    assert set(side["method"]) == {"EfficientNet-Lite0, linear probe", "Small CNN from scratch"}
    assert side["probability"].between(0, 1).all() and set(side["label at 0.5"]) <= {"normal", "pneumonia"}


def test_a_run_without_val_predictions_says_how_to_get_the_view(monkeypatch, xray_run, tmp_path):
    runs = tmp_path / "runs" / "xray"
    old = shutil.copytree(xray_run, runs / xray_run.name)
    (old / "val_predictions.csv").unlink()
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(shared_data_or_skip("medmnist", "pneumoniamnist.npz").parents[1]))
    monkeypatch.setenv("EMBEDLAB_RUNS_DIR", str(tmp_path / "runs"))
    at = open_page(f"{PAGES}/xray.py", lang="en")
    assert not at.exception
    assert any("saved before runs stored their validation predictions" in i.value for i in at.info)
    assert not any("Final report on test" in m.value for m in at.markdown), "no threshold picked on test instead"


def test_the_evidence_views_speak_chinese(page_env):
    at = open_page(f"{PAGES}/xray.py", lang="zh")
    assert not at.exception
    labels = {m.label for m in at.metric}
    assert {"验证集灵敏度", "验证集特异度"} <= labels
    assert "测试集最终报告" in markdown(at) and "所有已保存的策略" in markdown(at)
    assert any(c.value.startswith("热力图来自") for c in at.caption)


def test_the_best_preset_has_its_button_its_row_and_its_answer_for_an_image(page_env, xray_data, tmp_path, monkeypatch):
    import json

    from engine.vision.best_preset import train_and_save_best
    from engine.vision.train import XrayConfig

    root = tmp_path / "runs"
    shutil.copytree(page_env, root / "xray" / page_env.name)
    monkeypatch.setenv("EMBEDLAB_RUNS_DIR", str(root))
    tiny = train_and_save_best(0, XrayConfig(epochs=1, train_subset=128, batch_size=32, threads=1), root=str(root), data=xray_data)
    whole = tiny.with_name("best-as-if-whole-set")  # the comparison row averages presets trained on the whole set only
    shutil.copytree(tiny, whole)
    config = json.loads((whole / "config.json").read_text())
    config["member_config"]["train_subset"] = 0
    (whole / "config.json").write_text(json.dumps(config))
    at = open_page(f"{PAGES}/xray.py", lang="en")
    assert not at.exception, at.exception
    assert at.button(key="xray_train_preset").label == "Train the best preset (seed 0)"
    summary = next(d.value for d in at.dataframe if "source" in d.value.columns)
    row = summary[summary["method"] == "Best preset: 3 scratch CNNs + TTA"]
    metrics = json.loads((whole / "metrics.json").read_text())
    assert len(row) == 1 and row["test AUC"].iloc[0] == pytest.approx(metrics["test/auc"])
    side = at.dataframe[-1].value
    mine = side[side["method"] == "Best preset: 3 scratch CNNs + TTA"]
    assert len(mine) == 1 and 0 <= mine["probability"].iloc[0] <= 1
