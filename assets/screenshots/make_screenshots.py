"""Make the README's screenshots (routing.png, map.png) from the live app in Debian's chromium.

    flock /tmp/embedlab-cpu.lock python assets/screenshots/make_screenshots.py

A fresh runs directory: the first page trains the default MIND on synthetic data, as a new user sees it.
Pages are opened from the home page through the sidebar navigation.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]


def main() -> None:
    from playwright.sync_api import sync_playwright

    port = 8765
    env = dict(os.environ, EMBEDLAB_RUNS_DIR=tempfile.mkdtemp(prefix="embedlab-shots-"))
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(ROOT / "app.py"), f"--server.port={port}",
                             "--server.address=127.0.0.1", "--server.headless=true"], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(url + "/_stcore/health", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            page = browser.new_context(viewport={"width": 1500, "height": 2000}).new_page()
            page.goto(url + "/")
            page.get_by_text("Embedding Lab").first.wait_for(timeout=120_000)
            for nav, ready, name in [("Routing", "coupling weights", "routing"), ("Embedding map", "item embeddings", "map")]:
                page.locator("[data-testid='stSidebarNav'] a").filter(has_text=nav).first.click()
                page.get_by_text(ready).first.wait_for(timeout=240_000)
                page.wait_for_timeout(2500)
                page.screenshot(path=str(HERE / f"{name}.png"))
                print("saved", HERE / f"{name}.png")
            browser.close()
    finally:
        proc.terminate()


if __name__ == "__main__":
    main()
