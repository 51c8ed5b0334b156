"""Make the README's screenshots (routing.png, map.png) from the live app in Debian's chromium.

    flock /tmp/embedlab-cpu.lock python assets/screenshots/make_screenshots.py

A fresh runs directory: the first page trains the default MIND on synthetic data, as a new user sees it.
Pages are opened from the home page through the sidebar navigation.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from browser import CHROMIUM_ARGS, start_streamlit  # noqa: E402  (one way to serve the app and drive chromium)


def main() -> None:
    from playwright.sync_api import sync_playwright

    with start_streamlit(tempfile.mkdtemp(prefix="embedlab-shots-")) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1500, "height": 2000}).new_page()
        page.goto(url + "/")
        page.get_by_text("Embedding Lab").first.wait_for(timeout=120_000)
        for nav, ready, name in [("Routing", "coupling weights w_ij of user", "routing"), ("Embedding map", "item embeddings (", "map")]:
            page.locator("[data-testid='stSidebarNav'] a").filter(has_text=nav).first.click()
            page.get_by_text(ready).filter(visible=True).first.wait_for(timeout=240_000)
            page.wait_for_timeout(2500)
            page.screenshot(path=str(HERE / f"{name}.png"))
            print("saved", HERE / f"{name}.png")
        browser.close()


if __name__ == "__main__":
    main()
