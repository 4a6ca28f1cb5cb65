"""A real headless Chromium (Debian's) loads the app, runs an example and finds the answer; saves a screenshot."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bench.app_timing import CHROMIUM_FLAGS as FLAGS

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def test_page_loads_runs_an_example_and_shows_the_answer(server_url, tmp_path):
    screenshot = tmp_path / "screenshot.png"  # docs/screenshot.png is a copy of one such run
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(server_url, wait_until="networkidle")
        page.get_by_text("a frozen LLM learns audio tasks").wait_for(timeout=60_000)
        page.get_by_label("Examples").click()
        page.get_by_role("option", name="Spoken digits (5-way, 2 voices each)").click()
        page.get_by_role("button", name="Load example").first.click()
        page.wait_for_function("document.body.innerText.includes('flite_slt.flac')", timeout=60_000)
        page.get_by_role("button", name="Classify", exact=True).click()
        page.wait_for_function("document.body.innerText.includes('s on cpu')", timeout=180_000)
        text = page.inner_text("body")
        page.screenshot(path=str(screenshot), full_page=True)
        browser.close()
    assert screenshot.stat().st_size > 10_000
    assert "instruction" in text and "query L0" in text  # the token view and its legend
    assert "relied on %" in text  # the per-demonstration table
    assert any(label in text for label in ("one", "two", "three", "four", "five"))
