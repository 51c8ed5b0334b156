"""Real browser: /rank opens on a fresh runs directory (it trains the small default recall model and
DIEN), the candidate-count slider moves, the slope chart follows, no exception, a screenshot is saved."""
from __future__ import annotations

from conftest import assert_no_exception, screenshot, wait_for_app
from test_browser_pages import move_slider, slider_by_label


def test_rank_page_opens_trains_its_defaults_and_the_candidate_slider_moves(streamlit_server, browser_page):
    page = browser_page
    page.goto(f"{streamlit_server}/rank")
    slider_by_label(page, "Number of candidates").wait_for(timeout=300_000)  # after training the defaults
    wait_for_app(page)
    assert_no_exception(page)
    page.get_by_text("Where each candidate moved (top 50").first.wait_for(timeout=60_000)
    page.get_by_text("DIEN attention a_t").first.wait_for(timeout=60_000)
    move_slider(page, "Number of candidates", 1, "ArrowLeft")
    page.get_by_text("Where each candidate moved (top 40").first.wait_for(timeout=120_000)
    wait_for_app(page)
    assert_no_exception(page)
    assert not page.console_errors, page.console_errors
    screenshot(page, "page_rank")
