"""A class opening the app at once: a fresh server with an empty runs folder gets simultaneous first visits to
every sub-page (separate browser contexts, so separate sessions), in a real chromium."""
from __future__ import annotations

import re

from conftest import ARTIFACTS, assert_no_exception, screenshot, start_streamlit

SUB_PAGES = ["routing", "map", "nearest", "train", "xray"]
RECALL = ("routing", "map", "nearest")


def test_simultaneous_first_visits_to_every_sub_page_share_one_training_job(_browser, tmp_path):
    runs = tmp_path / "runs"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "streamlit-simultaneous.log"
    with start_streamlit(runs, log) as url:
        pages = {}
        for name in SUB_PAGES:
            page = _browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
            page.console_errors = []
            page.on("pageerror", lambda exc, p=page: p.console_errors.append(str(exc)))
            pages[name] = page
        for name, page in pages.items():  # "commit": do not wait for one page before asking for the next
            page.goto(f"{url}/{name}", wait_until="commit")
        for name, page in pages.items():
            page.locator("h1").first.wait_for(timeout=120_000)
            sidebar = page.locator("[data-testid='stSidebarUserContent']")
            sidebar.wait_for(timeout=60_000)
            assert "Recommendation data" in sidebar.inner_text(), name  # app.py ran: its sidebar is there
            nav = page.locator("[data-testid='stSidebarNav']").inner_text()
            assert "Routing" in nav and "common" not in nav, nav  # st.navigation's pages, not a pages/ folder listing
        # the three recall pages wait on the same job, each seeing the others
        for name in RECALL:
            pages[name].locator("[data-testid='stProgress']").first.wait_for(timeout=60_000)
        # each sees at least one other (all three once every tab has redrawn within the window; a loaded server is slow)
        pages["routing"].get_by_text(re.compile(r"[12] other visitor\(s\) wait for this same job")).first.wait_for(timeout=120_000)
        for page in pages.values():
            assert_no_exception(page)
        screenshot(pages["routing"], "jobs_waiting")
        owner = [n for n in RECALL if pages[n].get_by_role("button", name="Cancel").count()]
        assert len(owner) == 1, owner  # only the session that started the job may cancel it
        pages[owner[0]].get_by_role("button", name="Cancel").click()
        for name in RECALL:
            pages[name].get_by_text("was cancelled").first.wait_for(timeout=180_000)  # at the next epoch end
            assert_no_exception(pages[name])
            assert pages[name].console_errors == [], pages[name].console_errors
        screenshot(pages[RECALL[-1]], "jobs_cancelled")
    text = log.read_text()
    assert "Traceback" not in text and "Error" not in text, text[-3000:]
    assert text.count("[jobs] started") == 1, text[-3000:]  # one training for the one config all three asked for
    assert not (runs / "recsys").exists() or list((runs / "recsys").iterdir()) == []  # nothing half-written stays
