"""Where a training step of each recall model spends its time (torch.profiler, top ops by self CPU time).

    OMP_NUM_THREADS=1 python bench/profile_recsys.py --threads 1 --label after
    python bench/profile_recsys.py --engine-root /tmp/old-tree --label before   # an older engine/ (git archive)

Profiles `--batches` training steps (loss, backward, Adam step) of each model on ml-100k R1 seed 0,
the model's default config, in the epoch's first batches after 3 warm-up steps, and writes the top ops
as one section of bench/profile_recsys.md (per label; other labels' sections are kept) and .json.
Absolute times are under whatever load the machine had (noted); compare ops within one section,
and sections only as shares of their own total.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
MODELS = ["youtubednn", "gru4rec", "mind", "comirec-dr", "comirec-sa"]


def profile_model(model_name: str, batches: int, top: int) -> dict:
    import numpy as np
    import torch
    from torch.profiler import ProfilerActivity, profile

    from engine.recsys.optim import make_optimizer
    from engine.recsys.run import RecsysConfig, build_model, param_groups, split_of

    config = RecsysConfig(model=model_name, dataset="ml-100k", seed=0)
    split = split_of(config)
    torch.manual_seed(config.seed)
    model = build_model(config, split)
    opt = make_optimizer(model, param_groups(model, config.weight_decay), config.lr)
    hist, lens, target = (torch.from_numpy(a) for a in (split.train_hist, split.train_len, split.train_target))
    order = torch.from_numpy(np.random.default_rng(config.seed).permutation(len(target)))
    bs = config.batch_size

    def step(i: int) -> None:
        idx = order[i * bs:(i + 1) * bs]
        loss = model.loss(hist[idx], lens[idx], target[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        loss.item()

    model.train()
    for i in range(3):
        step(i)
    t0 = time.perf_counter()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
        for i in range(3, 3 + batches):
            step(i)
    wall = time.perf_counter() - t0
    events = sorted(prof.key_averages(group_by_input_shape=True), key=lambda e: -e.self_cpu_time_total)
    total = sum(e.self_cpu_time_total for e in events)
    ops = [{"op": e.key, "shapes": str(e.input_shapes)[:90], "ms_per_batch": e.self_cpu_time_total / 1e3 / batches,
            "calls_per_batch": e.count / batches, "share": e.self_cpu_time_total / total} for e in events[:top]]
    return {"model": model_name, "batch_size": bs, "batches": batches, "self_cpu_ms_per_batch": total / 1e3 / batches,
            "wall_ms_per_batch": wall * 1e3 / batches, "top": ops}


def section(label: str, meta: dict, results: list[dict]) -> str:
    out = [f"## {label}", "", f"Code: {meta['code']}; {meta['date']}; threads {meta['threads']}; load average {meta['load']}.", ""]
    for r in results:
        out += [f"### {r['model']} (batch {r['batch_size']}; {r['batches']} steps; self CPU {r['self_cpu_ms_per_batch']:.1f} ms/step, "
                f"wall with profiler {r['wall_ms_per_batch']:.1f} ms/step)", "",
                "| op | input shapes | ms/step | calls/step | share |", "|---|---|---|---|---|"]
        for o in r["top"]:
            out.append(f"| `{o['op']}` | {o['shapes']} | {o['ms_per_batch']:.2f} | {o['calls_per_batch']:.0f} | {100 * o['share']:.1f}% |")
        out.append("")
    return "\n".join(out)


def kept_reading(mpath: Path) -> list[str]:
    """The hand-written "## Reading" section of an existing table (what the numbers say), kept on rewrite."""
    if not mpath.exists():
        return []
    text = mpath.read_text()
    if "\n## Reading\n" not in text:
        return []
    part = text.split("\n## Reading\n", 1)[1].split("\n## ", 1)[0]
    return ["## Reading", part.rstrip(), ""]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--label", required=True, help="section name, e.g. before / after")
    ap.add_argument("--engine-root", default=str(HERE.parent), help="the folder holding the engine/ to profile")
    ap.add_argument("--code", default="", help="what code this is (a commit), for the table")
    ap.add_argument("--models", nargs="+", default=MODELS, choices=MODELS)
    ap.add_argument("--batches", type=int, default=30)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default=str(HERE / "profile_recsys"))
    a = ap.parse_args(argv)
    sys.path.insert(0, a.engine_root)
    from engine.threads import set_threads

    set_threads(a.threads)
    results = [profile_model(m, a.batches, a.top) for m in a.models]
    meta = {"code": a.code or a.engine_root, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "threads": a.threads,
            "load": " ".join(Path("/proc/loadavg").read_text().split()[:3])}
    jpath, mpath = Path(a.out + ".json"), Path(a.out + ".md")
    data = json.loads(jpath.read_text()) if jpath.exists() else {}
    data[a.label] = {"meta": meta, "results": results}
    jpath.write_text(json.dumps(data, indent=1))
    head = ["# Recall models: where a training step's time goes (torch.profiler)", "",
            "Command: `python bench/profile_recsys.py --threads 1 --label LABEL [--engine-root OLD_TREE]` (ml-100k R1 seed 0, "
            "each model's default config; top ops by self CPU time over the profiled steps). Times were taken on a shared "
            "2-core machine under the load noted in each section: read shares and op counts, not absolute ms.", ""]
    reading = kept_reading(mpath)
    mpath.write_text("\n".join(head + reading + [section(k, v["meta"], v["results"]) for k, v in data.items()]))
    print(section(a.label, meta, results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
