"""Page load and first classify result of a running app, measured in Debian's headless Chromium.

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
        page.get_by_label("Examples").click()
        page.get_by_role("option", name=args.example).click()
        page.get_by_role("button", name="Load example").first.click()
        page.wait_for_function("document.body.innerText.includes('.flac')", timeout=60_000)
        start = time.perf_counter()
        page.get_by_role("button", name="Classify", exact=True).click()
        page.wait_for_function("document.body.innerText.includes(' s on ')", timeout=300_000)
        first = time.perf_counter() - start
        if args.screenshot:
            page.screenshot(path=args.screenshot, full_page=True)
        browser.close()
    result = {"page_load_seconds": round(load, 2), "first_classify_seconds": round(first, 2)}
    print(json.dumps(result))
    write_result(args.out, result, vars(args))


if __name__ == "__main__":
    main()
