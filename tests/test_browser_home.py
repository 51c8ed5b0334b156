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


def test_a_fresh_servers_first_visit_to_a_sub_page_gets_the_apps_navigation_and_sidebar(runs_root, browser_page):
    # Streamlit runs a `pages/` script on its own until app.py has called st.navigation once in the process.
    from conftest import ARTIFACTS, start_streamlit

    with start_streamlit(runs_root, ARTIFACTS / "streamlit-fresh.log") as url:
        page = browser_page
        page.goto(url + "/xray")
        wait_for_app(page)
        assert_no_exception(page)
        nav = page.locator("[data-testid='stSidebarNav']").inner_text()
        assert "Chest X-ray" in nav and "Routing" in nav and "common" not in nav
        assert "Recommendation data" in page.locator("[data-testid='stSidebarUserContent']").inner_text()
        assert "Chest X-ray" in page.locator("h1").first.inner_text()
