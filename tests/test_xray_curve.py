"""The label-efficiency chart on the X-ray page: one line per strategy, error bars from the 95% interval, and
the committed bench table it reads has every cell it claims."""
from __future__ import annotations

import json

import numpy as np

from pages.xray_curve import BENCH_JSON, STRATEGIES, curve_figure


def _row(strategy: str, fraction: float, seeds: int = 3) -> dict:
    return {"strategy": strategy, "fraction": fraction, "seeds": seeds, "train_images": int(4708 * fraction),
            "test_auc": 0.9, "test_auc_lo": 0.85, "test_auc_hi": 0.97, "test_acc": 0.8, "test_acc_lo": 0.7,
            "test_acc_hi": 0.9}


def test_curve_has_one_line_per_strategy_with_its_interval():
    summary = [_row("scratch", f) for f in (0.01, 0.1, 1.0)] + [_row("full", 0.01, seeds=1)]
    fig = curve_figure(summary, "test_auc")
    lines = [tr for tr in fig.data if tr.mode == "lines+markers"]
    assert len(lines) == 2
    scratch = lines[0]
    assert list(scratch.x) == [1.0, 10.0, 100.0]
    assert np.allclose(scratch.error_y.array, 0.07) and np.allclose(scratch.error_y.arrayminus, 0.05)
    assert list(lines[1].error_y.array) == [0.0], "one seed: no interval is drawn"
    assert fig.layout.xaxis.type == "log"


def test_reference_points_are_open_markers_in_one_legend_entry():
    ref = [_row("scratch", 1.0), _row("full", 1.0)]
    fig = curve_figure([_row("scratch", 0.01)], "test_acc", ref)
    marks = [tr for tr in fig.data if tr.mode == "markers"]
    assert len(marks) == 2 and all(tr.marker.symbol == "circle-open" for tr in marks)
    assert [tr.showlegend for tr in marks] == [True, False]
    assert list(marks[0].y) == [0.8]


def test_committed_table_summarises_its_runs():
    assert BENCH_JSON.exists(), "bench/xray/label_efficiency.json is committed"
    table = json.loads(BENCH_JSON.read_text())
    for cell in table["summary"]:
        assert cell["strategy"] in STRATEGIES
        runs = [r for r in table["runs"] if r["strategy"] == cell["strategy"] and r["fraction"] == cell["fraction"]]
        assert len(runs) == cell["seeds"] >= 1
        assert np.isclose(np.mean([r["test_auc"] for r in runs]), cell["test_auc"])
        if cell["seeds"] > 1:
            assert cell["test_auc_lo"] <= cell["test_auc"] <= cell["test_auc_hi"]
