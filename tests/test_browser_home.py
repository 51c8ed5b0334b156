"""The home page in a real browser (Debian chromium via playwright)."""
from conftest import assert_no_exception, screenshot, wait_for_app


def test_home_page_lists_datasets_and_the_sidebar_dataset_choice(streamlit_server, browser_page):
    page = browser_page
    page.goto(streamlit_server + "/")
    wait_for_app(page)
    assert_no_exception(page)
    assert "Embedding Lab" in page.locator("h1").first.inner_text()
    sidebar = page.locator("[data-testid='stSidebarUserContent']").inner_text()
    assert "Dataset" in sidebar and "Split seed" in sidebar
    assert page.locator("[data-testid='stDataFrame']").count() >= 1
    screenshot(page, "home")
    assert page.console_errors == []
