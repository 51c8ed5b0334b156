"""Published PneumoniaMNIST results to compare against, and the strategy comparison table.

Source: Yang J. et al., "MedMNIST v2 - A large-scale lightweight benchmark for 2D and 3D biomedical image
classification", Scientific Data 10, 41 (2023), the benchmark table of the 2D datasets (test AUC and ACC,
PneumoniaMNIST columns). Values as quoted in the project issue; Google AutoML Vision's ACC 0.946 was
cross-checked against a public leaderboard page, the others were not re-verified here.
"""
from __future__ import annotations

import numpy as np

CITATION = "MedMNIST v2 (Yang et al., Scientific Data 10:41, 2023), 2D benchmark table, PneumoniaMNIST"
PUBLISHED: tuple[tuple[str, float, float], ...] = (  # (method, test AUC, test ACC)
    ("ResNet-18 (28)", 0.944, 0.854),
    ("ResNet-18 (224)", 0.956, 0.864),
    ("ResNet-50 (28)", 0.948, 0.854),
    ("ResNet-50 (224)", 0.962, 0.884),
    ("auto-sklearn", 0.942, 0.855),
    ("AutoKeras", 0.947, 0.878),
    ("Google AutoML Vision", 0.991, 0.946),
)
STRATEGY_LABELS = {
    "linear-probe": "EfficientNet-Lite0, linear probe",
    "partial": "EfficientNet-Lite0, last blocks + head",
    "full": "EfficientNet-Lite0, full fine-tuning",
    "scratch": "Small CNN from scratch",
}


PRESET_LABEL = "Best preset: 3 scratch CNNs + TTA"


def _mean_row(label: str, ms: list[dict]) -> dict:
    row = {"method": label, "source": f"this app, {len(ms)} seed(s)", "seeds": len(ms)}
    for key, name in (("val/auc", "val AUC"), ("val/acc", "val ACC"), ("test/auc", "AUC"), ("test/acc", "ACC"),
                      ("test/sensitivity", "sensitivity"),
                      ("test/specificity", "specificity"), ("train_seconds", "train s")):
        v = np.array([m[key] for m in ms], dtype=float)
        row[name] = float(v.mean())
        row[f"{name} sd"] = float(v.std(ddof=1)) if len(v) > 1 else float("nan")
    return row


def on_whole_training_set(preset: dict) -> bool:
    """A listed preset (engine.vision.best_preset.list_presets) whose members trained on every training image (no
    subset, no fraction): the only kind the comparison averages, as for the single strategies."""
    member = preset["config"]["member_config"]
    return member.get("train_subset", 0) == 0 and member.get("train_fraction", 1.0) == 1.0


def comparison_rows(runs: list[dict], presets: list[dict] = ()) -> list[dict]:
    """One row per strategy (mean ± sd over the seeds present), the `best` preset's row (engine.vision.best_preset,
    its runs on the whole training set), then the published rows."""
    rows = []
    for strategy, label in STRATEGY_LABELS.items():
        ms = [r["metrics"] for r in runs if r["config"].strategy == strategy and r["config"].train_subset == 0
              and r["config"].train_fraction == 1.0]
        if ms:
            rows.append(_mean_row(label, ms))
    whole = [p["metrics"] for p in presets if on_whole_training_set(p)]
    if whole:
        rows.append(_mean_row(PRESET_LABEL, whole))
    for method, auc, acc in PUBLISHED:
        rows.append({"method": method, "source": CITATION, "seeds": None, "AUC": auc, "ACC": acc})
    return rows


def run_rows(runs: list[dict]) -> list[dict]:
    """Every stored run (val beside test), then the published rows (test only): the page's chart and table."""
    rows = []
    for r in runs:
        c, m = r["config"], r["metrics"]
        rows.append({"method": STRATEGY_LABELS[c.strategy], "strategy": c.strategy, "seed": c.seed,
                     "train images": c.train_subset or None, "px": c.data_size, "val AUC": m.get("val/auc"),
                     "val ACC": m.get("val/acc"), "AUC": m["test/auc"], "ACC": m["test/acc"],
                     "sensitivity": m["test/sensitivity"], "specificity": m["test/specificity"],
                     "train s": m["train_seconds"], "run": str(r["path"])})
    for method, auc, acc in PUBLISHED:
        rows.append({"method": method, "strategy": None, "AUC": auc, "ACC": acc, "run": None})
    return rows


def one_run_per_strategy(runs: list[dict]) -> list[dict]:
    """For each strategy (in STRATEGY_LABELS order) its newest run on the whole training set, else its newest run."""
    out = []
    for strategy in STRATEGY_LABELS:
        mine = [r for r in runs if r["config"].strategy == strategy]  # `runs` come newest first
        if mine:
            out.append(next((r for r in mine if r["config"].train_subset == 0), mine[0]))
    return out
