"""Real browser, in Chinese: every page opened with ?lang=zh shows Chinese (navigation, title, body), no exception,
and a screenshot (tests/artifacts/zh_<page>.png) to look at; the sidebar switch and the browser's locale work."""
from __future__ import annotations

import re

import pytest

from conftest import assert_no_exception, screenshot, wait_for_app

CJK = re.compile(r"[\u4e00-\u9fff]")
PAGES = {  # url path: words that must be on screen in Chinese
    "": "嵌入",  # home: 嵌入地图 in the page table
    "train": "训练与对比",
    "map": "嵌入地图",
    "routing": "动态路由",
    "nearest": "近邻",
    "xray": "胸部 X 光",
    "glossary": "行为胶囊",
}


def main_text(page) -> str:
    return page.locator("[data-testid='stMainBlockContainer']").inner_text()


@pytest.mark.parametrize("url", list(PAGES), ids=lambda u: u or "home")
def test_every_page_opens_in_chinese(streamlit_server, browser_page, url):
    page = browser_page
    page.goto(f"{streamlit_server}/{url}?lang=zh")
    page.locator("h1").first.wait_for(timeout=240_000)
    if url in ("map", "routing", "nearest"):  # a first visit trains the small default model first
        page.get_by_text("测试用户").first.wait_for(timeout=240_000)
    wait_for_app(page)
    assert_no_exception(page)
    h1 = page.locator("h1").first.inner_text()
    assert url == "" or CJK.search(h1), h1  # home's title is the product's name
    assert PAGES[url] in main_text(page)
    nav = page.locator("[data-testid='stSidebarNav']").inner_text()
    assert "训练与对比" in nav and "术语表" in nav, nav
    page.locator("[data-testid='stSidebarUserContent']").get_by_text("语言").first.wait_for(timeout=30_000)  # a first visit reruns once
    assert "lang=zh" in page.url, page.url
    assert not page.console_errors, page.console_errors
    screenshot(page, f"zh_{url or 'home'}")


def test_the_sidebar_switch_changes_language_and_link(streamlit_server, browser_page):
    page = browser_page
    page.goto(f"{streamlit_server}/glossary?lang=zh")
    wait_for_app(page)
    assert page.locator("h1").first.inner_text().endswith("术语表")
    page.locator("[data-testid='stSidebarUserContent'] label").filter(has_text="English").first.click()
    page.wait_for_function("() => /Glossary/.test(document.querySelector('h1')?.innerText || '')", timeout=60_000)
    wait_for_app(page)
    assert "lang=en" in page.url, page.url
    assert "Train and compare" in page.locator("[data-testid='stSidebarNav']").inner_text()
    page.locator("[data-testid='stSidebarNav'] a").filter(has_text="Routing").first.click()  # the language follows the visitor
    page.locator("h1").filter(has_text="Routing").first.wait_for(timeout=240_000)
    wait_for_app(page)
    assert_no_exception(page)
    assert not CJK.search(page.locator("h1").first.inner_text())


def test_a_chinese_browser_gets_chinese_by_default(streamlit_server, _browser):
    context = _browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(f"{streamlit_server}/")
        wait_for_app(page)
        assert "首页" in page.locator("[data-testid='stSidebarNav']").inner_text()
        assert "lang=zh" in page.url, page.url
    finally:
        context.close()


def test_the_file_uploaders_own_words_are_chinese_too(streamlit_server, browser_page):
    """Streamlit draws "Upload" and "20MB per file" itself; in Chinese the app's CSS puts the catalogue's words there."""
    page = browser_page
    page.goto(f"{streamlit_server}/?lang=zh")
    wait_for_app(page)
    drop = page.locator("[data-testid='stFileUploaderDropzone']").first
    drop.wait_for(timeout=60_000)
    after = drop.evaluate("""d => [d.querySelector("button [data-testid='stMarkdownContainer'] p"),
                                   d.querySelector("[data-testid='stFileUploaderDropzoneInstructions'] span")]
                                  .map(e => [getComputedStyle(e, '::after').content, getComputedStyle(e).fontSize])""")
    (button, button_size), (limit, limit_size) = after
    assert button == '"上传"' and button_size == "0px", after  # the English word is drawn at size 0, the Chinese after it
    assert CJK.search(limit) and "MB" in limit and limit_size == "0px", after
