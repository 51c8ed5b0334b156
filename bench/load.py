"""Many visitors at once: N simultaneous browser sessions on a fresh server with an empty runs folder.

For each N (default 1, 4, 8) a fresh `streamlit run app.py` (tests/browser.py) gets N separate chromium contexts
(separate sessions) that open the recall pages at the same moment (/routing, /map, /nearest in turn), so every
session needs the default MIND that nobody has trained yet. Reported per N:

- exceptions: Streamlit exception blocks on any page + page errors in the browser + tracebacks in the server log;
- trainings: jobs the server started ("[jobs] started" in its log) and run folders written (1 config: must be 1);
- time until every session shows its chart (from the first request);
- slider / view-widget reruns while no training runs, all sessions at once, each `--moves` times: p50 and p95 of the
  time until the new view is drawn (timed inside the page), and p95 until the script run has finished too;
- the server's peak RSS (sampled every 0.2 s from /proc), and the machine's load average before and after.

Then, on the last server (model trained), 20 sessions open /routing, /map or /nearest one after the other and
close; the server's RSS after the 1st and after the 20th is reported (bounded memory: within 15 %).

    OMP_NUM_THREADS=1 python bench/load.py --out bench/load.md

Chromium runs on the same machine as the server, so at N = 8 the browser competes for the same cores.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from browser import CHROMIUM_ARGS, IDLE_JS, start_streamlit  # noqa: E402  (one way to serve the app and drive chromium)
from pages_latency import ARM, view_pattern  # noqa: E402  (one way to time a view: inside the page, from the input event to the drawn frame)

PAGES = ["routing", "map", "nearest"]
READY = {"routing": "Routing iterations", "map": "t-SNE perplexity", "nearest": "λ"}


NO_JOB_JS = "() => !document.querySelector('[data-testid=\"stProgress\"]')"


def server_pid(port: int) -> int | None:
    """The streamlit process serving `port` (a child of this process)."""
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            if "streamlit" in cmd and f"--server.port={port}" in cmd:
                return int(d.name)
    return None


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def children(pid: int) -> list[int]:
    """Every descendant of `pid` (the server's training job processes)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        try:
            kids = [int(k) for t in Path(f"/proc/{p}/task").iterdir() for k in (t / "children").read_text().split()]
        except OSError:
            continue
        out += kids
        todo += kids
    return out


class RssSampler(threading.Thread):
    """Peak RSS of the server process, and of the server with its job processes (training runs in children)."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.peak_total, self.stop = pid, 0.0, 0.0, threading.Event()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                own = rss_mb(self.pid)
            except OSError:
                return
            kids = 0.0
            for k in children(self.pid):
                try:
                    kids += rss_mb(k)
                except OSError:
                    pass
            self.peak, self.peak_total = max(self.peak, own), max(self.peak_total, own + kids)
            time.sleep(0.2)


def slider(page, label: str):
    lab = page.locator("[data-testid='stWidgetLabel']").filter(has_text=re.compile("^" + re.escape(label)))
    return page.locator("[data-testid='stSlider']").filter(has=lab).first.locator("input[type='range'], [role='slider']").first


def moves(page, name: str):
    """(action, expected text) pairs that change one view on the page, cycled (as in bench/pages_latency.py)."""
    if name == "routing":
        # the default MIND (remedy: p = inf) starts the slider at its top, 20
        return [(lambda: slider(page, "p").press("ArrowLeft"), re.compile(r"at p = 19\.75$")),
                (lambda: slider(page, "p").press("ArrowRight"), re.compile(r"at p = 20$"))]
    if name == "nearest":
        return [(lambda: slider(page, "λ").press("ArrowRight"), "with λ = 0.05 ·"),
                (lambda: slider(page, "λ").press("ArrowLeft"), "with λ = 0 ·")]
    radio = lambda text: page.locator("[data-testid='stRadio'] label").filter(has_text=text).first.click()  # noqa: E731
    return [(lambda: radio("popularity"), "coloured by popularity"), (lambda: radio("planted topic"), "coloured by planted topic")]


async def count_exceptions(page) -> int:
    return await page.locator("[data-testid='stException']").count() + len(page.errors)


async def session(browser, url: str, name: str, shared: dict, n_moves: int):
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await ctx.new_page()
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    await shared["start"].wait()
    await page.goto(f"{url}/{name}", wait_until="commit")
    await page.locator("[data-testid='stSlider']").filter(has_text=READY[name]).first.wait_for(timeout=600_000)
    await page.wait_for_function(IDLE_JS, timeout=600_000)
    ready = time.perf_counter() - shared["t0"]
    # /routing also trains the paper-as-written counterpart for its comparison: the moves wait until no job panel
    # (progress bar) is left on the page, so they are timed while no training runs
    await page.wait_for_function(NO_JOB_JS, polling=500, timeout=600_000)
    await page.wait_for_function(IDLE_JS, timeout=600_000)
    shared["ready"] += 1
    if shared["ready"] == shared["n"]:
        shared["go"].set()  # every session shows its chart: the training has ended; now all move sliders together
    await shared["go"].wait()
    times, finished = [], []
    steps = moves(page, name)
    for i in range(n_moves):
        action, expect = steps[i % len(steps)]
        try:
            await page.evaluate(ARM, view_pattern(expect))
            s = time.perf_counter()
            await action()
            times.append(await asyncio.wait_for(page.evaluate("window.__view_ms"), 120) / 1000)
            await page.wait_for_function(IDLE_JS, timeout=120_000)
            finished.append(time.perf_counter() - s)
        except Exception:  # noqa: BLE001 - counted as a failed move
            times.append(float("nan"))
    exc = await count_exceptions(page)
    await ctx.close()
    return ready, times, exc, finished


async def run_n(n: int, n_moves: int, browser, churn: int) -> dict:
    runs = tempfile.mkdtemp(prefix=f"embedlab-load-{n}-")
    log = Path(tempfile.gettempdir()) / f"embedlab-load-{n}.log"
    load_before = os.getloadavg()[0]
    try:
        with start_streamlit(runs, log) as url:
            pid = server_pid(int(url.rsplit(":", 1)[1]))
            sampler = RssSampler(pid)
            sampler.start()
            rss_idle = rss_mb(pid)
            shared = {"start": asyncio.Event(), "go": asyncio.Event(), "ready": 0, "n": n, "t0": 0.0}
            tasks = [asyncio.create_task(session(browser, url, PAGES[i % len(PAGES)], shared, n_moves)) for i in range(n)]
            await asyncio.sleep(1.0)  # every context is open: ask for all pages at once
            shared["t0"] = time.perf_counter()
            shared["start"].set()
            results = await asyncio.gather(*tasks)
            rss_after = rss_mb(pid)
            trained = len([p for p in (Path(runs) / "recsys").iterdir() if not p.name.startswith(".")])
            churn_rss = await churn_sessions(browser, url, pid, churn) if churn else None
            sampler.stop.set()
            text = log.read_text()
    finally:
        shutil.rmtree(runs, ignore_errors=True)
    moves_all = [x for _, ts, _, _ in results for x in ts]
    ok = [x for x in moves_all if x == x]
    q = statistics.quantiles(ok, n=20) if len(ok) >= 2 else [float("nan")] * 19
    done = [x for *_, f in results for x in f]
    q_done = statistics.quantiles(done, n=20) if len(done) >= 2 else [float("nan")] * 19
    return {
        "n": n, "exceptions": sum(e for _, _, e, _ in results) + text.count("Traceback"),
        "trainings": text.count("[jobs] started"), "run_dirs": trained, "ready_max": max(r for r, *_ in results),
        "ready_min": min(r for r, *_ in results), "p95_finished": q_done[18],
        "p50": statistics.median(ok) if ok else float("nan"), "p95": q[18] if len(ok) >= 2 else (ok[0] if ok else float("nan")),
        "moves": len(moves_all), "failed_moves": len(moves_all) - len(ok), "rss_idle": rss_idle, "rss_peak": sampler.peak, "rss_peak_total": sampler.peak_total,
        "rss_after": rss_after, "load_before": load_before, "load_after": os.getloadavg()[0], "churn": churn_rss,
    }


async def churn_sessions(browser, url: str, pid: int, k: int) -> tuple[float, float]:
    """k sessions one after the other, each opening one recall page until its chart shows, then closing."""
    first = None
    for i in range(k):
        ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
        page = await ctx.new_page()
        name = PAGES[i % len(PAGES)]
        await page.goto(f"{url}/{name}")
        await page.locator("[data-testid='stSlider']").filter(has_text=READY[name]).first.wait_for(timeout=120_000)
        await page.wait_for_function(IDLE_JS, timeout=120_000)
        await ctx.close()
        await asyncio.sleep(1.0)
        if i == 0:
            first = rss_mb(pid)
    await asyncio.sleep(3.0)
    return first, rss_mb(pid)


async def main_async(args) -> list[dict]:
    from playwright.async_api import async_playwright

    out = []
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS, headless=True)
        for i, n in enumerate(args.n):
            row = await run_n(n, args.moves, browser, args.churn if i == len(args.n) - 1 else 0)
            print(row, flush=True)
            out.append(row)
        await browser.close()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--moves", type=int, default=4, help="view changes per session")
    ap.add_argument("--churn", type=int, default=20, help="sessions opened and closed one by one on the last server")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if shutil.which("chromium") is None:
        sys.exit("Debian's chromium is needed (apt-get install chromium).")
    rows = asyncio.run(main_async(args))
    lines = ["| N sessions | exceptions | trainings started (run folders) | every chart shown after, s | slider p50, s | slider p95, s | p95 until the run finished too, s | moves (failed) | server RSS idle → peak, MB | peak with job processes, MB | load avg before / after |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['n']} | {r['exceptions']} | {r['trainings']} ({r['run_dirs']}) | {r['ready_max']:.1f} (first {r['ready_min']:.1f}) | {r['p50']:.2f} | "
                     f"{r['p95']:.2f} | {r['p95_finished']:.2f} | {r['moves']} ({r['failed_moves']}) | {r['rss_idle']:.0f} → {r['rss_peak']:.0f} | {r['rss_peak_total']:.0f} | "
                     f"{r['load_before']:.2f} / {r['load_after']:.2f} |")
    churn = next((r["churn"] for r in rows if r["churn"]), None)
    if churn:
        a, b = churn
        lines += ["", f"Sessions opened and closed one after the other ({args.churn}, /routing, /map, /nearest in turn, on the N = {rows[-1]['n']} server): "
                      f"server RSS after the 1st {a:.0f} MB, after the {args.churn}th {b:.0f} MB ({(b / a - 1) * 100:+.1f} %)."]
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(
            "# Many visitors at once: a fresh server, an empty runs folder, N simultaneous browser sessions\n\n"
            "Command: `OMP_NUM_THREADS=1 python bench/load.py --out bench/load.md` (EMBEDLAB_DATA_DIR=../shared/data; "
            "synthetic dataset; the server trains the default MIND as one job shared by every session).\n\n"
            f"Machine: {os.cpu_count()} cores shared with other developers' work (load average in the table), CPU only; "
            "chromium runs on the same machine. Sessions open /routing, /map and /nearest in turn; 'slider' is a view "
            "widget per page (routing: attention power p; map: colouring; nearest: λ), moved by all sessions at once "
            "once the training has ended, timed inside each page from the key press / click until the first frame drawn "
            "with the new view (bench/pages_latency.py's ARM), and from outside until Streamlit's status says the run "
            "has finished.\n\n"
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n{table}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
