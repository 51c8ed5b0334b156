"""Real browser: every recall page opens on a fresh runs directory (the first one trains the small
default model), one slider moves, the script finishes, no exception shows, a screenshot is saved."""
from __future__ import annotations

import re

import pytest

from conftest import assert_no_exception, screenshot, wait_for_app



def slider_by_label(page, label: str):
    """The st.slider whose label starts with `label`."""
    lab = page.locator("[data-testid='stWidgetLabel']").filter(has_text=re.compile("^" + re.escape(label)))
    return page.locator("[data-testid='stSlider']").filter(has=lab).first


def move_slider(page, label: str, presses: int = 1, key: str = "ArrowRight") -> None:
    """Focus the slider whose label contains `label` and move it with the keyboard."""
    slider = slider_by_label(page, label)
    slider.scroll_into_view_if_needed()
    thumb = slider.locator("input[type='range'], [role='slider']").first
    thumb.focus()
    for _ in range(presses):
        thumb.press(key)
    page.wait_for_timeout(300)


@pytest.mark.parametrize(
    "url, slider, presses, key, expect",
    [
        ("map", "t-SNE perplexity", 1, "ArrowLeft", "perplexity 29"),
        ("routing", "Routing iterations", 1, "ArrowRight", "iteration 4 of 4"),
        ("nearest", "λ", 1, "ArrowRight", "λ = 0.05"),
        ("train", "Epochs", 12, "ArrowLeft", "done, test Recall@50"),
    ],
)
def test_page_opens_and_a_slider_moves(streamlit_server, browser_page, url, slider, presses, key, expect):
    # One key press per slider that reruns the page: a rerun can take the focus away between presses.
    page = browser_page
    page.goto(f"{streamlit_server}/{url}")
    # the first visit may train the default model first: wait for the slider itself, then for the script to end
    slider_by_label(page, slider).wait_for(timeout=240_000)
    wait_for_app(page)
    assert_no_exception(page)
    move_slider(page, slider, presses, key)
    if url == "train":  # the form's sliders act on submit: train the default MIND with fewer epochs
        page.get_by_role("button", name="Train (or reuse stored runs)").click()
    page.get_by_text(expect).filter(visible=True).first.wait_for(timeout=180_000)  # tables keep hidden copies of text
    wait_for_app(page)
    assert_no_exception(page)
    assert not page.console_errors, page.console_errors
    screenshot(page, f"page_{url}")
