"""The Chest X-ray page in a real browser (Debian chromium via playwright): upload a sample X-ray, get a
prediction with Grad-CAM and nearest cases; upload a corrupt file, get a message; screenshots in artifacts/."""
from __future__ import annotations

from pathlib import Path

from conftest import assert_no_exception, screenshot, wait_for_app
from test_xray_train import xray_data, xray_run  # noqa: F401  (session fixtures; the run lands in runs_root)

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "assets" / "xray-samples" / "person1947_bacteria_4876.jpeg"


def test_upload_a_sample_then_a_corrupt_file(xray_run, streamlit_server, browser_page, tmp_path):
    page = browser_page
    page.goto(streamlit_server + "/xray")
    wait_for_app(page)
    assert_no_exception(page)
    assert "Chest X-ray" in page.locator("h1").first.inner_text()
    screenshot(page, "xray-data")

    page.get_by_role("tab", name="Try an X-ray").click()
    page.get_by_text("Upload your own").click()
    wait_for_app(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(SAMPLE))
    page.get_by_text("Probability of pneumonia").wait_for(timeout=60_000)
    wait_for_app(page)
    assert_no_exception(page)
    body = page.locator("[data-testid='stMainBlockContainer']").inner_text()
    assert "Grad-CAM" in body and "Nearest training cases" in body
    assert page.locator("[data-testid='stImage']").count() >= 4 + 5  # steps + overlay + 5 neighbours
    screenshot(page, "xray-upload-sample")

    corrupt = tmp_path / "corrupt.jpeg"
    corrupt.write_bytes(SAMPLE.read_bytes()[:3000])
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(corrupt))
    page.locator("[data-testid='stAlertContentError']").first.wait_for(timeout=60_000)
    wait_for_app(page)
    assert_no_exception(page)
    err = page.locator("[data-testid='stAlertContentError']").first.inner_text()
    assert "truncated or corrupt" in err or "not an image" in err
    assert "Probability of pneumonia" not in page.locator("[data-testid='stMainBlockContainer']").inner_text()
    screenshot(page, "xray-upload-corrupt")
    assert page.console_errors == []
