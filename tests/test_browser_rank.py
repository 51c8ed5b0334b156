"""Real browser: /rank over a small stored recall run and a small stored DIEN run (the page's own default
training is covered by tests/test_pages_rank.py); the candidate-count slider moves, the slope chart
follows, no exception shows, a screenshot is saved."""
from __future__ import annotations

from conftest import assert_no_exception, screenshot, wait_for_app
from test_browser_pages import move_slider, slider_by_label


def test_rank_page_draws_and_the_candidate_slider_moves(streamlit_server, runs_root, browser_page):
    from engine.rank.run import RankConfig, train as train_rank
    from engine.recsys.run import RecsysConfig, train as train_recall

    train_recall(RecsysConfig(model="mind", dataset="synthetic", seed=0, dim=16, epochs=2), runs_root=runs_root)
    train_rank(RankConfig(model="dien", dataset="synthetic", seed=0, dim=8, cat_dim=4, epochs=1), runs_root=runs_root)
    page = browser_page
    page.goto(f"{streamlit_server}/rank")
    slider_by_label(page, "Number of candidates").wait_for(timeout=240_000)
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
