"""Real browser: /scale opens, draws its charts from the stored benches and the live sweep, and the
embedding-size slider changes the bytes per row; a screenshot is saved."""
from __future__ import annotations

from conftest import assert_no_exception, screenshot, wait_for_app


def test_scale_page_in_a_browser(streamlit_server, browser_page):
    page = browser_page
    page.goto(f"{streamlit_server}/scale")
    page.get_by_text("Bytes per row (weights + Adam)").first.wait_for(timeout=240_000)
    wait_for_app(page)
    assert_no_exception(page)
    assert page.locator("[data-testid='stPlotlyChart']").count() >= 3
    assert page.get_by_text("768 B").first.is_visible()  # d = 64: 64 x 4 x 3
    screenshot(page, "page_scale")
    assert not page.console_errors, page.console_errors
