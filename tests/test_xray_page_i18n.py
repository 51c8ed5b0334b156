"""The Chest X-ray page in English and Chinese (AppTest through app.py): no exception, no missing key, Chinese
labels in zh. Kept beside test_xray_page.py so it reuses the session's tiny X-ray run (train_and_save reuses a
finished run of the same config)."""
from __future__ import annotations

import re

from conftest import shared_data_or_skip
from test_i18n import LANGS, open_page
from test_xray_train import xray_data, xray_run  # noqa: F401  (session fixtures)
from conftest import PAGES

CJK = re.compile(r"[\u4e00-\u9fff]")


def test_the_xray_page_runs_in_both_languages(monkeypatch, xray_run):
    monkeypatch.setenv("EMBEDLAB_DATA_DIR", str(shared_data_or_skip("medmnist", "pneumoniamnist.npz").parents[1]))
    monkeypatch.setenv("EMBEDLAB_RUNS_DIR", str(xray_run.parents[1]))
    shown = {}
    for lang in LANGS:
        at = open_page(f"{PAGES}/xray.py", lang=lang)
        labels = [m.label for m in at.metric] + [t.label for t in at.tabs]
        assert len(at.metric) >= 8, labels  # the trained branch: test metrics and the sample's analysis
        shown[lang] = " ".join(labels + [c.value for c in at.caption])
    assert "Probability of pneumonia" in shown["en"] and not CJK.search(shown["en"].replace("中文", ""))
    assert "肺炎概率" in shown["zh"] and "灵敏度" in shown["zh"] and "特异度" in shown["zh"]
