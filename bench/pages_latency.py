"""How fast the recall pages answer a view-only widget, measured in a real browser.

Starts `streamlit run app.py` on a fresh runs directory (so the first page visit trains the small
default MIND, as a new user would see it), drives Debian's chromium with playwright, and times each
interaction from the key press / click until the page has drawn the new view (a text that only the
new view contains, e.g. the chart title "attention over interests at p = 2.25"; timed inside the
page), and until the script run has finished. Each interaction runs `--repeats` times, alternating
direction; the table reports the median and the worst. Run it under the CPU lock:

    flock /tmp/embedlab-cpu.lock python bench/pages_latency.py --out bench/pages_latency.md
"""
from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from browser import CHROMIUM_ARGS, IDLE_JS, start_streamlit  # noqa: E402  (one way to serve the app and drive chromium)

def wait_idle(page, timeout_ms: int = 180_000) -> None:
    page.wait_for_function(IDLE_JS, timeout=timeout_ms)


def wait_text(page, text, timeout_ms: int = 60_000) -> None:
    page.get_by_text(text).first.wait_for(state="visible", timeout=timeout_ms)


def slider(page, label: str):
    lab = page.locator("[data-testid='stWidgetLabel']").filter(has_text=re.compile("^" + re.escape(label)))
    s = page.locator("[data-testid='stSlider']").filter(has=lab).first
    s.scroll_into_view_if_needed()
    return s.locator("input[type='range'], [role='slider']").first


# Armed before each interaction: resolves with the ms from the key press / pointer press to the first frame drawn
# after the new view's text is in the DOM (a chart title, a markdown or caption line). Measured inside the page, so
# the observer costs nothing between checks; polling for text from outside (playwright's get_by_text scans the
# whole DOM every few ms) took CPU from the page it timed and added 0.1-0.3 s to each interaction here.
ARM = """(pat) => { window.__view_ms = new Promise(resolve => {
  const re = new RegExp(pat);
  let t0 = null;
  const start = () => { if (t0 === null) t0 = performance.now(); };
  document.addEventListener('keydown', start, {capture: true, once: true});
  document.addEventListener('pointerdown', start, {capture: true, once: true});
  const shown = () => [...document.querySelectorAll('.gtitle, [data-testid="stMarkdownContainer"], [data-testid="stCaptionContainer"]')]
      .some(el => re.test(el.textContent.trim()));
  const obs = new MutationObserver(() => { if (t0 !== null && shown()) { obs.disconnect();
      requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - t0), 0)); } });
  obs.observe(document.body, {subtree: true, childList: true, characterData: true});
}); return true; }"""


def view_pattern(expect: str | re.Pattern) -> str:
    """The regular expression ARM waits for: a compiled pattern as written, a plain text literally."""
    return expect.pattern if isinstance(expect, re.Pattern) else re.escape(expect)


def timed(page, action, expect) -> tuple[float, float]:
    """(seconds until the new view is drawn, seconds until the script run has finished too)."""
    page.evaluate(ARM, view_pattern(expect))
    t0 = time.perf_counter()
    action()
    drawn = page.evaluate("window.__view_ms") / 1000
    wait_idle(page)
    return drawn, time.perf_counter() - t0


def press(page, label: str, key: str):
    return lambda: slider(page, label).press(key)


def click_radio(page, text: str):
    return lambda: page.locator("[data-testid='stRadio'] label").filter(has_text=text).first.click()


# (page url, interaction name, [(action factory, expected text)] cycled over repeats)
def scenarios(page):
    return [
        ("routing", "label-aware attention p (slider)", [(press(page, "p", "ArrowLeft"), re.compile(r"at p = 19\.75$")), (press(page, "p", "ArrowRight"), re.compile(r"at p = 20$"))]),  # default MIND: p = inf, the slider at 20
        ("routing", "routing iterations r (slider, recomputes routing)", [(press(page, "Routing iterations", "ArrowRight"), "iteration 4 of 4"), (press(page, "Routing iterations", "ArrowLeft"), "iteration 3 of 3")]),
        ("map", "colouring (radio)", [(click_radio(page, "popularity"), "coloured by popularity"), (click_radio(page, "planted topic"), "coloured by planted topic")]),
        ("nearest", "greedy λ (slider)", [(press(page, "λ", "ArrowRight"), "with λ = 0.05 ·"), (press(page, "λ", "ArrowLeft"), "with λ = 0 ·")]),
        ("nearest", "index: exact → IVF (radio, builds the index)", [(click_radio(page, "IVF"), "IVF, nlist 16, nprobe 2"), (click_radio(page, "exact (flat)"), "Index: exact")]),
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None, help="write the markdown table here")
    args = ap.parse_args()
    chromium = shutil.which("chromium")
    if chromium is None:
        sys.exit("Debian's chromium is needed (apt-get install chromium).")
    from playwright.sync_api import sync_playwright

    runs = tempfile.mkdtemp(prefix="embedlab-bench-runs-")
    rows, firsts = [], []
    try:
        with start_streamlit(runs) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
            page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            current = None
            for url_path, name, steps in scenarios(page):
                if url_path != current:
                    t0 = time.perf_counter()
                    page.goto(f"{url}/{url_path}")
                    ready = {"routing": "Routing iterations", "map": "t-SNE perplexity", "nearest": "λ"}[url_path]
                    page.locator("[data-testid='stSlider']").filter(has_text=ready).first.wait_for(timeout=240_000)
                    page.wait_for_timeout(500)
                    wait_idle(page)
                    firsts.append((url_path, time.perf_counter() - t0))
                    current = url_path
                try:
                    times = []
                    for i in range(args.repeats):
                        page.wait_for_timeout(300)
                        times.append(timed(page, *steps[i % len(steps)]))
                    drawn, done = [d for d, _ in times], [f for _, f in times]
                    rows.append((url_path, name, f"{statistics.median(drawn):.2f}", f"{max(drawn):.2f}", f"{statistics.median(done):.2f}"))
                except Exception as e:  # noqa: BLE001 - a scenario that cannot be driven is reported, not fatal
                    rows.append((url_path, name, "failed", type(e).__name__, ""))
            browser.close()
    finally:
        shutil.rmtree(runs, ignore_errors=True)

    lines = ["| page | first visit, s (fresh runs dir) |", "|---|---|"]
    lines += [f"| /{u} | {t:.1f} |" for u, t in firsts]
    lines += ["", f"| page | interaction | new view drawn: median, s | worst, s (of {args.repeats}) | script finished too: median, s |",
              "|---|---|---|---|---|"]
    lines += [f"| /{u} | {n} | {m} | {w} | {f} |" for u, n, m, w, f in rows]
    table = "\n".join(lines)
    print(table)
    if args.out:
        cmd = "flock /tmp/embedlab-cpu.lock python bench/pages_latency.py --out bench/pages_latency.md"
        args.out.write_text(
            "# Recall pages: time from a view-only widget change to the new view (real browser)\n\n"
            f"Command: `{cmd}` (EMBEDLAB_DATA_DIR=../shared/data, EMBEDLAB_THREADS=2).\n\n"
            f"Machine: {os.cpu_count()} cores shared with other work, CPU only; synthetic dataset, the default MIND "
            "(trained on the first visit, which is timed too). 'New view drawn': from the key press or click (the page's own "
            "input event) until the first frame drawn after the new view's chart title or text is in the page, measured "
            "inside the page. 'Script finished too': until Streamlit's status says the run has ended, polled from outside. "
            "Each interaction alternates between two values, so after the first two each value has been seen before and "
            "per-value caches answer.\n\n"
            f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}.\n\n```\n{table}\n```\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
