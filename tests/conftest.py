"""Shared fixtures: data locations, a live `streamlit run app.py`, and a headless Debian chromium page."""
from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterator

import pytest

from browser import CHROMIUM_ARGS, IDLE_JS, start_streamlit  # noqa: F401  (re-exported for the tests)

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
PAGES = "ui/pages" if (ROOT / "ui" / "pages").is_dir() else "pages"  # page files, relative to app.py (see app.py)
SHARED_DATA = Path(os.environ.get("EMBEDLAB_DATA_DIR") or ROOT.parent / "shared" / "data")

os.environ.setdefault("EMBEDLAB_THREADS", "2")


def shared_data_or_skip(*parts: str) -> Path:
    """A path under the shared data directory, or skip the test saying what is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent on this machine (set EMBEDLAB_DATA_DIR to a folder holding it)")
    return path


def copy_as_older_code(run: Path, dest: Path) -> Path:
    """A copy of a stored recall run whose config.json reads as written before runs carried a code version."""
    import json

    shutil.copytree(run, dest)
    config = json.loads((dest / "config.json").read_text())
    del config["code_version"]
    (dest / "config.json").write_text(json.dumps(config))
    return dest


@pytest.fixture(scope="session")
def runs_root(tmp_path_factory) -> Path:
    """One runs directory for the whole session, so tests reuse each other's small trained runs."""
    return tmp_path_factory.mktemp("runs")


@pytest.fixture(scope="session")
def streamlit_server(runs_root) -> Iterator[str]:
    """Base URL of one `streamlit run app.py` shared by the session's browser tests."""
    with start_streamlit(runs_root, ARTIFACTS.mkdir(parents=True, exist_ok=True) or ARTIFACTS / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="session")
def _browser():
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def browser_page(_browser):
    """A fresh playwright Page (1400x1000) that records console errors in `page.console_errors`."""
    context = _browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.console_errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.console_errors.append(str(exc)))  # type: ignore[attr-defined]
    yield page
    context.close()


def wait_for_app(page, timeout_ms: int = 180_000) -> None:
    """Wait until the Streamlit script has run to the end: content drawn, no 'Running…' status."""
    page.wait_for_selector("[data-testid='stMainBlockContainer'] [data-testid='stElementContainer']",
                           timeout=timeout_ms)
    page.wait_for_timeout(700)  # a rerun triggered by an interaction starts within this
    page.wait_for_function(IDLE_JS, timeout=timeout_ms)
    page.wait_for_timeout(300)


def assert_no_exception(page) -> None:
    """Fail when the page shows a Streamlit exception block."""
    n = page.locator("[data-testid='stException']").count()
    assert n == 0, page.locator("[data-testid='stException']").first.inner_text()


def screenshot(page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
