"""The home page in a real browser (Debian chromium via playwright)."""
from conftest import assert_no_exception, screenshot, wait_for_app


def test_home_page_lists_datasets_and_the_sidebar_dataset_choice(streamlit_server, browser_page):
    page = browser_page
    page.goto(streamlit_server + "/")
    wait_for_app(page)
    assert_no_exception(page)
    assert "Embedding Lab" in page.locator("h1").first.inner_text()
    sidebar = page.locator("[data-testid='stSidebarUserContent']")
    sidebar.get_by_text("Split seed").first.wait_for(timeout=30_000)  # the widgets may draw a frame after the header
    assert "Dataset" in sidebar.inner_text() and "Split seed" in sidebar.inner_text()
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


def test_an_uploaded_log_can_be_used_at_once_from_the_sidebar(streamlit_server, browser_page, tmp_path):
    from test_data_loaders import _log_bytes

    page = browser_page
    page.goto(streamlit_server + "/")
    wait_for_app(page)
    log = tmp_path / "my clicks.csv"
    log.write_bytes(_log_bytes(seed=3))
    page.locator("[data-testid='stFileUploaderDropzoneInput']").first.set_input_files(str(log))
    page.get_by_text("40 users").first.wait_for(timeout=60_000)
    page.get_by_role("button", name="Use it now").click()
    wait_for_app(page)
    assert_no_exception(page)
    screenshot(page, "home-upload")
    box = page.locator("[data-testid='stSidebarUserContent'] [data-testid='stSelectbox']").first
    shown = box.evaluate("b => [b.innerText, ...[...b.querySelectorAll('input')].map(i => i.value || i.getAttribute('aria-label') || '')].join(' | ')")
    assert "Your log: my-clicks-" in shown, shown
    assert "dataset=Your+log%3A+my-clicks-" in page.url, page.url  # the choice is in the link, as every view is
    assert page.console_errors == []
