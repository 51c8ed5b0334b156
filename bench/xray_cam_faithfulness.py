"""Are the X-ray Grad-CAM maps faithful? Deletion / insertion against a random region of the same area and shape,
for every stored X-ray run and every Grad-CAM layer, on the val split. Writes bench/xray/cam_faithfulness.md/.json.

    EMBEDLAB_RUNS_DIR=runs python bench/xray_cam_faithfulness.py --threads 1

Method and intervals: engine/vision/faithfulness.py. Val, not test: the page's default layer may be chosen from
these numbers, and choices are made on val.
"""
from __future__ import annotations

import argparse
import json
import platform
import shlex
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.data.medmnist import load_pneumoniamnist  # noqa: E402
from engine.threads import set_threads  # noqa: E402
from engine.vision.benchmark import STRATEGY_LABELS, one_run_per_strategy  # noqa: E402
from engine.vision.faithfulness import FRACTIONS, faithfulness, summarise  # noqa: E402
from engine.vision.gradcam import CAM_LAYERS  # noqa: E402
from engine.vision.train import list_xray_runs, load_model  # noqa: E402

OUT = Path(__file__).resolve().parent / "xray" / "cam_faithfulness.md"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs-dir", default=None)
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--split", default="val", choices=["val", "test"])
    ap.add_argument("--n", type=int, default=0, help="first n images of the split (0 = all)")
    ap.add_argument("--layers", nargs="+", default=list(CAM_LAYERS), choices=CAM_LAYERS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--strategies", nargs="+", default=list(STRATEGY_LABELS), choices=list(STRATEGY_LABELS))
    ap.add_argument("--merge", action="store_true", help="keep the other strategies' rows of an existing .json beside --out")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(OUT))
    a = ap.parse_args()
    set_threads(a.threads)
    command = "python bench/xray_cam_faithfulness.py " + " ".join(shlex.quote(x) for x in sys.argv[1:])
    runs = one_run_per_strategy([r for r in list_xray_runs(a.runs_dir)
                                 if r["config"].train_subset == 0 and r["config"].strategy in a.strategies])
    data: dict[int, object] = {}
    rows, t0 = [], time.perf_counter()
    for r in runs:
        cfg = r["config"]
        if cfg.data_size not in data:
            data[cfg.data_size] = load_pneumoniamnist(root=a.data_dir, size=cfg.data_size, allow_download=False)
        images = data[cfg.data_size].images[a.split]
        images = images[: a.n] if a.n else images
        model = load_model(r["path"])
        for layer in a.layers:
            t = time.perf_counter()
            res = faithfulness(model, images, layer, FRACTIONS, seed=a.seed)
            for row in summarise(res, seed=a.seed):
                rows.append({"strategy": cfg.strategy, "seed": cfg.seed, "run": Path(r["path"]).name, "layer": layer,
                             "grid": "x".join(map(str, res["grid"])), "input": cfg.input_size or cfg.data_size, **row})
            print(f"{cfg.strategy} {layer} {res['grid']}: {time.perf_counter() - t:.0f} s", file=sys.stderr, flush=True)
    if a.merge and Path(a.out).with_suffix(".json").exists():
        kept = [r for r in json.loads(Path(a.out).with_suffix(".json").read_text()) if r["strategy"] not in a.strategies]
        rows = sorted(kept + rows, key=lambda r: list(STRATEGY_LABELS).index(r["strategy"]))  # stable: layer order kept
    write(a, command, rows, time.perf_counter() - t0)


def _ci(row: dict, key: str) -> str:
    return f"{row[key]:+.3f} [{row[key + '_lo']:+.3f}, {row[key + '_hi']:+.3f}]"


def write(a: argparse.Namespace, command: str, rows: list[dict], seconds: float) -> None:
    out = Path(a.out)
    out.with_suffix(".json").write_text(json.dumps(rows, indent=1))
    lines = [
        "# Is Grad-CAM faithful here? Deletion and insertion against a random region (PneumoniaMNIST)",
        "",
        f"Command: `{command}`",
        "",
        f"Machine: {platform.machine()}, 2 cores shared, torch {torch.__version__}, {a.threads} thread(s); "
        f"{seconds:.0f} s in all. Finished {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.",
        "",
        f"Images: the {a.split} split ({rows[0]['n'] if rows else 0} images). For each image the explained class is the "
        "predicted one; p = its calibrated probability. Method: `engine/vision/faithfulness.py` (top-f pixels of the "
        "heatmap filled with the image's mean grey, against the same region shifted by a random offset; 95 % "
        "bootstrap intervals over images).",
        "",
        "- **deletion**: drop of p when the region is masked (higher = the region mattered more).",
        "- **insertion**: p of a blurred copy with the region pasted back (higher = the region restores more of the "
        "decision); p of the blurred copy alone in the last column.",
        "- **map - random**: paired difference; an interval above 0 means the map beats a random region of the "
        "same area and shape. **wins**: share of images where it does.",
        "",
        "| strategy | layer | map | test | top | map | random | map - random | wins | p (image / blurred) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {STRATEGY_LABELS[r['strategy']]} (seed {r['seed']}) | {r['layer']} | {r['grid']} | {r['test']} "
                     f"| {r['fraction']:.0%} | {_ci(r, 'map')} | {_ci(r, 'random')} | {_ci(r, 'difference')} "
                     f"| {r['map_wins']:.2f} | {r['p_class']:.3f} / {r['p_blurred']:.3f} |")
    lines += ["", "Runs: " + ", ".join(sorted({f"`{r['run']}`" for r in rows})) + "."]
    out.write_text("\n".join(lines) + "\n")
    print(out)


if __name__ == "__main__":
    main()
