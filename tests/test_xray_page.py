"""The Chest X-ray page under AppTest: it draws without exceptions, analyses a sample, and every bad upload
gets a message or a warned prediction while the next good upload still works."""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from conftest import PAGES, shared_data_or_skip
from test_xray_images import chest_like, png_bytes
from test_xray_train import xray_data, xray_run  # noqa: F401  (session fixtures)

ROOT = Path(__file__).resolve().parents[1]
PAGE = str(ROOT / PAGES / "xray.py")
SAMPLE = ROOT / "assets" / "xray-samples" / "NORMAL2-IM-1427-0001.jpeg"


@pytest.fixture
def page_env(monkeypatch, xray_run):
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(shared_data_or_skip("medmnist", "pneumoniamnist.npz").parent.parent))
    monkeypatch.setenv("EMBEDLAB_RUNS_DIR", str(xray_run.parents[1]))
    return xray_run


def texts(at: AppTest) -> str:
    return " ".join([e.value for e in at.error] + [w.value for w in at.warning] + [m.label for m in at.metric])


def bomb_png() -> bytes:
    import struct
    import zlib

    data = bytearray(png_bytes(Image.new("L", (8, 8), 0)))
    i = data.index(b"IHDR")
    data[i + 4 : i + 12] = struct.pack(">II", 90_000, 90_000)
    data[i + 17 : i + 21] = struct.pack(">I", zlib.crc32(bytes(data[i : i + 17])))
    return bytes(data)


def gif_bytes() -> bytes:
    buf = io.BytesIO()
    Image.fromarray(chest_like()).save(buf, format="GIF", save_all=True, append_images=[Image.new("L", (100, 120))])
    return buf.getvalue()


def photo_bytes() -> bytes:
    from sklearn.datasets import load_sample_image

    return png_bytes(Image.fromarray(load_sample_image("flower.jpg")), format="JPEG")


BAD_UPLOADS = {  # name: (bytes, what the user must see)
    "notes.txt": (b"just some text, not an image at all", "error"),
    "cut.jpeg": (SAMPLE.read_bytes()[:4000], "error"),
    "empty.png": (b"", "error"),
    "dot.png": (png_bytes(Image.new("L", (1, 1))), "error"),
    "bomb.png": (bomb_png(), "error"),
    "deep.png": (png_bytes(Image.fromarray(chest_like().astype(np.uint16) * 256)), "prediction"),
    "anim.gif": (gif_bytes(), "warning"),
    "flower.jpg": (photo_bytes(), "warning"),
}


def test_page_draws_and_explains_a_sample(page_env):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception, at.exception
    assert "Chest X-ray" in at.title[0].value
    assert [t.label for t in at.tabs] == ["Data", "Fine-tuning and results", "Try an X-ray"]
    labels = [m.label for m in at.metric]
    assert "Probability of pneumonia" in labels and "AUC" in labels
    p = next(m for m in at.metric if m.label == "Probability of pneumonia")
    assert 0.0 <= float(p.value) <= 1.0
    assert any("MedMNIST v2" in c.value for c in at.caption)
    at.slider(key="xray_threshold").set_value(0.9).run()
    assert not at.exception
    n_charts = len(at.get("plotly_chart"))
    at.toggle(key="xray_tsne").set_value(True).run()
    assert not at.exception
    assert len(at.get("plotly_chart")) == n_charts + 2, "t-SNE before and after"


def test_every_bad_upload_gets_a_message_and_the_next_upload_works(page_env):
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    at.radio(key="xray_source").set_value("Upload your own").run()
    assert not at.exception
    for name, (data, expect) in BAD_UPLOADS.items():
        at.file_uploader(key="xray_upload").upload(name, data).run()
        assert not at.exception, (name, at.exception)
        if expect == "error":
            assert len(at.error) == 1 and at.error[0].value, name
            assert "Probability of pneumonia" not in texts(at), name
        else:
            assert "Probability of pneumonia" in texts(at), name
            if expect == "warning":
                assert len(at.warning) >= 1, name
        at.file_uploader(key="xray_upload").upload("good.jpeg", SAMPLE.read_bytes(), "image/jpeg").run()
        assert not at.exception and not at.error, name
        assert "Probability of pneumonia" in texts(at), f"the upload after {name} must work"


def test_first_visit_without_runs_offers_a_quick_linear_probe(monkeypatch, tmp_path):
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(shared_data_or_skip("medmnist", "pneumoniamnist.npz").parent.parent))
    monkeypatch.setenv("EMBEDLAB_RUNS_DIR", str(tmp_path / "empty-runs"))
    at = AppTest.from_file(PAGE, default_timeout=120).run()
    assert not at.exception
    assert any("quick linear probe" in b.label for b in at.button)
    assert any("No trained model" in i.value or "Train a model first" in i.value for i in at.info)


def test_training_from_the_page_shows_progress_and_stores_a_run(monkeypatch, tmp_path):
    """One epoch of the small CNN on the full training set, started by the page's Train button."""
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(shared_data_or_skip("medmnist", "pneumoniamnist.npz").parent.parent))
    monkeypatch.setenv("EMBEDLAB_RUNS_DIR", str(tmp_path / "runs"))
    at = AppTest.from_file(PAGE, default_timeout=180).run()
    at.selectbox(key="xray_strategy").set_value("scratch")
    at.number_input(key="xray_epochs").set_value(1)
    at.button(key="xray_train").click().run()
    assert not at.exception, at.exception
    from engine import jobs

    key = at.session_state["xray_jobs"][0]
    assert jobs.runner().get(key).label.startswith("Training: Small CNN")  # a shared job, not the script run
    job = jobs.runner().wait(key, 900)
    assert job.state == "done", job.error
    at.run()
    assert any("Done: test AUC" in s.value for s in at.success), [s.value for s in at.success]
    runs = list((tmp_path / "runs" / "xray").glob("scratch-*"))
    assert len(runs) == 1 and (runs[0] / "metrics.json").exists()
    assert "Small CNN from scratch" in at.dataframe[-1].value["method"].tolist()
