"""AppTest of the Scale page: stored bench charts, the live faiss sweep, the table-size arithmetic, zh strings."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import numpy as np

import pytest
from streamlit.testing.v1 import AppTest
from conftest import PAGES

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def scale_page(tmp_path, monkeypatch):
    monkeypatch.setenv("EMBEDLAB_RUNS_DIR", str(tmp_path))  # no stored runs: the live sweep uses clustered vectors

    def open_(lang: str = "en") -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=180)
        at.session_state["lang"] = lang
        at.run()
        at.switch_page(f"{PAGES}/scale.py").run()
        assert not at.exception, [e.value for e in at.exception]
        return at

    return open_


def _chart(at: AppTest, key_part: str) -> dict:
    for c in at.get("plotly_chart"):
        spec = json.loads(c.proto.spec)
        if key_part in json.dumps(spec.get("layout", {}).get("title", "")):
            return spec
    raise AssertionError(f"no chart titled with {key_part!r}")


def _values(v) -> list:
    """A plotly trace array: a plain list, or plotly 6's typed array {"dtype", "bdata"}."""
    if isinstance(v, dict) and "bdata" in v:
        return np.frombuffer(base64.b64decode(v["bdata"]), dtype=np.dtype(v["dtype"])).tolist()
    return list(v)


def test_scale_page_draws_the_stored_benches_and_a_live_sweep(scale_page):
    at = scale_page()
    stored = json.loads((ROOT / "bench" / "faiss_scale.json").read_text())
    spec = _chart(at, f"{stored['meta']['items']:,} items")
    points = sum(len(_values(tr.get("x", []))) for tr in spec["data"] if tr.get("mode") != "lines")
    assert points == len(stored["rows"])  # one marker per stored setting
    live = _chart(at, "This catalogue (2,000 items)")
    ys = [y for tr in live["data"] if tr.get("mode") != "lines" for y in _values(tr["y"])]
    assert max(ys) == 1.0  # Flat is exact
    assert _chart(at, "Milliseconds per training step")["data"]
    # the table-size arithmetic: d = 64 -> 64 x 4 x 3 = 768 bytes per row (weights + Adam's 2 moments)
    assert any(m.value == "768 B" for m in at.metric)


def test_scale_page_speaks_chinese(scale_page):
    at = scale_page("zh")
    assert at.title[0].value.startswith("📈 规模")
    assert any("每秒训练样本数" in json.dumps(json.loads(c.proto.spec), ensure_ascii=False) for c in at.get("plotly_chart")) or \
        not (ROOT / "bench" / "ddp.json").exists()
