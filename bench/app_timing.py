"""Page load, first classify result, and a second classify with the same demonstrations, of a running app,
measured in Debian's headless Chromium (the CPU kind — with or without native bf16 — is in the result file).

python app.py --port 7912 &            # the default LLM on the CPU
python -m bench.app_timing --url http://127.0.0.1:7912/
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from bench.provenance import write_result

# Headless and quiet: this machine's closed network refuses Chromium's background connections.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def classify(page) -> float:
    """Click Classify and wait for a new timing line: seconds from click to answer, as the user waits."""
    before = page.inner_text("#classify-timing")
    start = time.perf_counter()
    page.get_by_role("button", name="Classify", exact=True).click()
    # Done when the line is a timing line again (while running it also shows the progress text) and a new one.
    page.wait_for_function(
        "([before]) => { const t = document.querySelector('#classify-timing').innerText.trim();"
        " return t !== before.trim() && /^[0-9.]+ s on [a-z]+$/.test(t); }",
        arg=[before],
        timeout=300_000,
    )
    seconds = time.perf_counter() - start
    print(f"timing line: {page.inner_text('#classify-timing')!r} after {seconds:.2f} s", flush=True)
    return seconds


def main() -> None:
    from playwright.sync_api import sync_playwright

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:7860/")
    parser.add_argument("--example", default="Spoken digits (5-way, 2 voices each)")
    parser.add_argument("--screenshot", default="")
    parser.add_argument("--out", type=Path, default=Path("bench_results/app_timing.json"))
    args = parser.parse_args()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1800})
        start = time.perf_counter()
        page.goto(args.url, wait_until="networkidle")
        load = time.perf_counter() - start
        page.get_by_text(args.example, exact=True).click()  # gr.Examples: one click fills the inputs
        page.wait_for_function("document.body.innerText.includes('.flac')", timeout=60_000)
        first = classify(page)
        again = classify(page)  # the same demonstrations: the app reuses their support set
        if args.screenshot:
            page.screenshot(path=args.screenshot, full_page=True)
        browser.close()
    result = {
        "page_load_seconds": round(load, 2),
        "first_classify_seconds": round(first, 2),
        "same_demonstrations_again_seconds": round(again, 2),
    }
    print(json.dumps(result))
    write_result(args.out, result, vars(args))


if __name__ == "__main__":
    main()
