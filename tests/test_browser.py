"""A real headless Chromium (Debian's) visits every tab of the real app, uploads files in each (no microphone),
runs each task once and finds its result; it saves a screenshot of each tab (docs/screenshots/ are copies)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from bench.app_timing import CHROMIUM_FLAGS as FLAGS

pytestmark = pytest.mark.integration
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DEMO = Path(__file__).resolve().parent.parent / "demo_examples"
# UNIAUDIO_SCREENSHOTS=docs/screenshots keeps the screenshots (how the README's were made; then
# `pngquant --quality=70-95 --force --ext .png docs/screenshots/*.png` makes them a third of the size: the tracked
# tree travels to a lent GPU under 64 MiB)
SHOTS = os.environ.get("UNIAUDIO_SCREENSHOTS")


@pytest.fixture(scope="module")
def page(server_url):
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (scripts/test.sh installs it)")
    playwright = pytest.importorskip("playwright.sync_api")
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        page.goto(server_url, wait_until="networkidle")
        page.get_by_text("a frozen LLM learns audio tasks").wait_for(timeout=60_000)
        yield page
        browser.close()


def upload(page, elem_id: str, files: list[Path]) -> None:
    page.locator(f"#{elem_id} input[type=file]").first.set_input_files([str(f) for f in files])


def finish(page, marker: str, name: str, tmp_path: Path, timeout: float = 300_000) -> str:
    page.wait_for_function(f"document.body.innerText.includes({marker!r})", timeout=timeout)
    folder = Path(SHOTS) if SHOTS else tmp_path
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)
    assert (folder / f"{name}.png").stat().st_size > 10_000
    return page.inner_text("body")


def named_copies(folder: Path, sources: dict[str, Path]) -> list[Path]:
    """Copies named ``<name>.flac``: an upload keeps only its file name, from which the app reads its label."""
    out = []
    for name, source in sources.items():
        out.append(folder / f"{name}.flac")
        shutil.copyfile(source, out[-1])
    return out


def test_classify_tab(page, tmp_path):
    page.get_by_role("tab", name="Classify").click()
    words = ("one", "two", "three")
    upload(page, "classify-files", named_copies(tmp_path, {w: DEMO / f"commands/{w}/flite_slt.flac" for w in words}))
    page.wait_for_function("document.body.innerText.includes('three.flac')", timeout=60_000)
    upload(page, "classify-query", [DEMO / "commands/two/flite_rms.flac"])
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Classify", exact=True).click()
    text = finish(page, "s on cpu", "classify", tmp_path)
    assert "instruction" in text and "query L0" in text  # the token view and its legend
    assert "relied on %" in text  # the per-demonstration table
    assert any(label in text for label in words)


def test_enhance_tab(page, tmp_path):
    page.get_by_role("tab", name="Enhance").click()
    upload(page, "enhance-noisy", [DEMO / f"enhance/pair0{i}_noisy.flac" for i in (1, 0)])
    upload(page, "enhance-clean", [DEMO / f"enhance/pair0{i}_clean.flac" for i in (0, 1)])
    upload(page, "enhance-query", [DEMO / "enhance/pair02_noisy.flac"])
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Enhance", exact=True).click()
    text = finish(page, "generated in", "enhance", tmp_path)
    assert "Remove" in text and "answer L0" in text  # the prompt and the generated tokens are shown


def test_synthesize_tab(page, tmp_path):
    page.get_by_role("tab", name="Synthesize").click()
    words = ("zero", "one", "two", "three")  # the text table fills itself from the file names
    upload(
        page,
        "synthesize-files",
        named_copies(tmp_path, {w: DEMO / f"tts/flite_slt/{i:02d}.flac" for i, w in enumerate(words)}),
    )
    page.wait_for_function("document.body.innerText.includes('three.flac')", timeout=60_000)
    page.get_by_label("Text to speak").fill("3 1")
    page.get_by_role("button", name="Synthesize", exact=True).click()
    finish(page, "generated in", "synthesize", tmp_path)


def test_codec_explorer_tab(page, tmp_path):
    page.get_by_role("tab", name="Codec explorer").click()
    upload(page, "explore-clip", [DEMO / "commands/seven/flite_slt.flac"])
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Tokenize", exact=True).click()
    text = finish(page, "kbit/s", "explorer", tmp_path)
    assert "L0" in text and "tokens/s" in text


def test_ask_tab(page, tmp_path):
    page.get_by_role("tab", name="Ask").click()
    upload(page, "ask-clip", [DEMO / "commands/seven/flite_slt.flac"])
    page.wait_for_timeout(1500)
    page.get_by_text("cascade: Whisper transcribes").click()
    page.get_by_role("button", name="Ask", exact=True).click()
    text = finish(page, "answered in", "ask", tmp_path, timeout=300_000)
    assert "cascade path" in text
    heard = page.input_value("#ask-transcript textarea")
    assert heard.strip(" .").lower() in {"seven", "7"}


def test_an_example_fills_the_demonstrations_with_their_own_labels(page):
    page.get_by_role("tab", name="Classify").click()
    page.get_by_text("Spoken digits (5-way, 2 voices each)", exact=True).click()
    page.wait_for_function("document.body.innerText.includes('espeak_ng_en_us_f3.flac')", timeout=60_000)
    page.wait_for_timeout(2000)  # any relabelling event would have run by now
    table = page.inner_text("#classify-table")
    assert all(word in table for word in ("one", "two", "three", "four", "five"))
    assert "flite slt" not in table  # not labels made from the uploaded file names
