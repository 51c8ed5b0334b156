"""Make the README's rank.png from the live app over an existing runs directory (recall and ranker runs).

    EMBEDLAB_RUNS_DIR=/path/to/runs python assets/screenshots/make_rank_screenshot.py [user-row]
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1] / "tests"))
from browser import CHROMIUM_ARGS, start_streamlit  # noqa: E402


def main() -> None:
    from playwright.sync_api import sync_playwright

    row = sys.argv[1] if len(sys.argv) > 1 else "0"
    with start_streamlit(os.environ.get("EMBEDLAB_RUNS_DIR", "runs")) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=shutil.which("chromium"), args=CHROMIUM_ARGS)
        page = browser.new_context(viewport={"width": 1500, "height": 1800}).new_page()
        page.goto(f"{url}/rank?user={row}")
        page.get_by_text("PCA of the AUGRU states").first.wait_for(timeout=600_000)
        page.wait_for_timeout(4000)
        page.get_by_text("Before and after re-ranking").first.scroll_into_view_if_needed()
        page.wait_for_timeout(1500)
        page.screenshot(path=str(HERE / "rank.png"))
        print("saved", HERE / "rank.png")
        browser.close()


if __name__ == "__main__":
    main()
