"""PneumoniaMNIST sources: the data dir (md5 checked, a modified copy warns), a local .npz (no md5, warns),
a Kermany-layout folder, and a missing dataset (a message that says how to get it)."""
from __future__ import annotations

import urllib.request

import numpy as np
import pytest
from PIL import Image

from conftest import shared_data_or_skip
from engine.data import medmnist
from engine.data.medmnist import COUNTS, load_pneumoniamnist
from engine.errors import DataError


def tiny_npz(path, n: int = 6, size: int = 28):
    rng = np.random.default_rng(0)
    arrays = {}
    for s in ("train", "val", "test"):
        arrays[f"{s}_images"] = rng.integers(0, 255, (n, size, size), dtype=np.uint8)
        arrays[f"{s}_labels"] = (np.arange(n) % 2).astype(np.uint8)[:, None]
    np.savez(path, **arrays)
    return arrays


def test_the_shared_file_loads_with_official_counts_and_warns_about_its_md5():
    root = shared_data_or_skip("medmnist", "pneumoniamnist.npz").parents[1]
    data = load_pneumoniamnist(root=root, allow_download=False)
    assert {s: len(data.labels[s]) for s in COUNTS} == COUNTS
    assert data.counts()["test"] == {"normal": 234, "pneumonia": 390}
    assert data.images["train"].shape[1:] == (28, 28) and data.images["train"].dtype == np.uint8
    assert any("md5" in w and "anyway" in w for w in data.warnings), "a modified copy must warn, not refuse"


def test_a_local_npz_loads_without_md5_and_with_a_warning(tmp_path):
    arrays = tiny_npz(tmp_path / "mine.npz")
    data = load_pneumoniamnist(tmp_path / "mine.npz")
    assert np.array_equal(data.images["val"], arrays["val_images"])
    assert data.labels["train"].tolist() == [0, 1, 0, 1, 0, 1]
    assert any("without an md5 check" in w for w in data.warnings)


def test_a_64px_file_is_resized_through_the_one_preprocessing(tmp_path):
    tiny_npz(tmp_path / "p64.npz", size=64)
    data = load_pneumoniamnist(tmp_path / "p64.npz", size=28)
    assert data.images["test"].shape == (6, 28, 28)


def test_a_kermany_folder_loads(tmp_path):
    rng = np.random.default_rng(1)
    for s in ("train", "val", "test"):
        for c in ("NORMAL", "PNEUMONIA"):
            d = tmp_path / s / c
            d.mkdir(parents=True)
            for i in range(2):
                Image.fromarray(rng.integers(0, 255, (90, 70), dtype=np.uint8)).save(d / f"im{i}.jpeg")
    (tmp_path / "train" / "NORMAL" / "broken.jpeg").write_bytes(b"not a jpeg")
    data = load_pneumoniamnist(tmp_path)
    assert data.counts()["train"] == {"normal": 2, "pneumonia": 2}
    assert data.images["val"].shape == (4, 28, 28)
    assert any("broken.jpeg" in w for w in data.warnings), "an unreadable file is skipped and named"


def test_missing_dataset_says_where_to_put_it(tmp_path):
    with pytest.raises(DataError) as e:
        load_pneumoniamnist(root=tmp_path, allow_download=False)
    assert "zenodo.org/records/10519652" in str(e.value)
    assert str(tmp_path / "medmnist" / "pneumoniamnist.npz") in str(e.value)


def test_unreachable_host_gives_the_manual_download_path(tmp_path, monkeypatch):
    def offline(*a, **k):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DataError, match=r"by hand.*28209eda62fecd6e6a2d98b1501bb15f.*medmnist"):
        load_pneumoniamnist(root=tmp_path)
    assert not (tmp_path / "medmnist").exists(), "a failed download leaves the data directory as it was"


def test_a_download_with_the_wrong_md5_is_refused(tmp_path, monkeypatch):
    class Reply:
        headers = {"Content-Length": "4"}

        def __init__(self):
            self.chunks = [b"junk", b""]

        def read(self, n):
            return self.chunks.pop(0)

        def __enter__(self):
            return self

        def __exit__(self, *a):
            return False

    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: Reply())
    with pytest.raises(DataError, match="damaged"):
        medmnist.download(28, tmp_path)
    assert not (tmp_path / "medmnist" / "pneumoniamnist.npz").exists()
