"""Upload-to-explanation latency: decode + preprocess + probability + Grad-CAM + 5 nearest (faiss) + OOD,
per sample X-ray, once the model is loaded. Writes bench/xray/latency.md.

    flock /tmp/embedlab-cpu.lock python bench/xray_latency.py --run runs/xray/full-<hash>
"""
from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine.threads import set_threads  # noqa: E402
from engine.vision.explain import XrayExplainer  # noqa: E402
from engine.vision.train import list_xray_runs  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default=None, help="run dir (default: newest full fine-tuning run)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "bench" / "xray" / "latency.md"))
    a = ap.parse_args()
    set_threads()
    run = Path(a.run) if a.run else next(r["path"] for r in list_xray_runs() if r["config"].strategy == "full")
    t0 = time.perf_counter()
    explainer = XrayExplainer(run)
    load_s = time.perf_counter() - t0
    samples = sorted((ROOT / "assets" / "xray-samples").glob("*.jpeg"))
    explainer.analyse(samples[0], keep_steps=True)  # warm-up
    times, results = [], {}
    for _ in range(a.repeats):
        for p in samples:
            t = time.perf_counter()
            results[p.name] = explainer.analyse(p, p.name, keep_steps=True)
            times.append(time.perf_counter() - t)
    truth = {n: "normal" if n.startswith("NORMAL") else "pneumonia" for n in results}
    correct = sum(r.label == truth[n] for n, r in results.items())
    flagged = sum(r.ood for r in results.values())
    ms = np.array(times) * 1000
    cfg = explainer.config
    text = "\n".join([
        "# Chest X-ray: upload to prediction, Grad-CAM and nearest cases",
        "",
        f"Command: `python bench/xray_latency.py {' '.join(shlex.quote(x) for x in sys.argv[1:])}` "
        f"(under `flock /tmp/embedlab-cpu.lock`; {os.cpu_count()} shared cores, torch {torch.__version__}, 2 threads)",
        "",
        f"Run: `{run.name}` ({cfg.strategy}, input {cfg.input_size} px). Model + faiss index load: {load_s:.2f} s (once).",
        f"Per image: read the JPEG (968x592 to 1776x1416 px), decode, 8-bit gray, crop, resize to 28 px, "
        f"probability, Grad-CAM of the predicted class, 5 nearest of {explainer.index.n} training embeddings, OOD score.",
        "",
        "| images | median ms | p90 ms | max ms |",
        "|---|---|---|---|",
        f"| {len(ms)} ({len(samples)} samples x {a.repeats}) | {np.median(ms):.1f} | {np.percentile(ms, 90):.1f} | {ms.max():.1f} |",
        "",
        "Target: under 1000 ms once the model is loaded.",
        "",
        f"On the way (demo inputs, not a test set: they come from the source dataset's training part): "
        f"{correct}/{len(results)} sample X-rays get the label their file name gives; {flagged} flagged as OOD.",
        "",
        "| sample | label | probability | OOD score |",
        "|---|---|---|---|",
        *[f"| {n} | {r.label} | {r.probability:.3f} | {r.ood_score:.3f} |" for n, r in sorted(results.items())],
        "",
    ])
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
