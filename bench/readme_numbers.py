"""Check that every accuracy in the README's few-shot tables comes from a file in ``bench_results/``.

Each table row (task, N, K) and column (a method: an LLM and a recipe, or the MFCC + DTW baseline) must match
a row of some ``bench_results/fewshot_*.json`` to the README's rounding; a number that no file holds is
reported with its row and column. ``tests/test_readme_numbers.py`` runs this on every test run.

    python -m bench.readme_numbers [--readme README.md] [--results bench_results]
"""

from __future__ import annotations

import argparse
import json
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# README column headers → result keys in the benchmark files
COLUMNS = {
    "ours (direct)": "default/ours",
    "channel": "default/channel",
    "paper's recipe": "default/paper",
    "MFCC + DTW": "mfcc_dtw",
    "SmolLM2 direct": "tiny/ours",
    "SmolLM2 channel": "tiny/channel",
    "SmolLM2 paper's recipe": "tiny/paper",
    "Qwen-1.5B channel": "large/channel",
    "v1 channel, levels 0–1": "default/channel",
    "v2 channel, level 0": "default/channel",
    "v2 channel, levels 0–1": "default/channel",
    "v2 direct, levels 0–1": "default/ours",
}
# Columns of one codec take only that codec's files (name prefix): a v1 cell cannot stand in v2's column.
COLUMN_FILES = {
    "v2 channel, level 0": "fewshot_v2_",
    "v2 channel, levels 0–1": "fewshot_v2_levels01",
    "v2 direct, levels 0–1": "fewshot_v2_levels01",
}
CELL = re.compile(r"(\d\.\d+)(?: \[(\d\.\d+), (\d\.\d+)\])?")


@dataclass(frozen=True)
class Claim:
    task: str
    way: str
    shots: int
    key: str
    accuracy: str  # as written, e.g. "0.855"
    files: str = "fewshot_"  # the benchmark files that may hold it (name prefix)

    def matches(self, value: float) -> bool:
        return round(value, len(self.accuracy.split(".")[1])) == float(self.accuracy)


def read_claims(readme: str) -> list[Claim]:
    """Every accuracy in a markdown table whose header starts with ``| task | N | K |``."""
    claims, header = [], None
    for line in readme.splitlines():
        cells = [c.strip().strip("*").strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| task | N | K |"):
            header = cells
            continue
        if header is None or not line.startswith("|"):
            header = None if not line.startswith("|") else header
            continue
        if set(line) <= set("|- "):
            continue
        task, way, shots = cells[0].rstrip("*"), cells[1].split(" ")[0], int(cells[2])
        for name, cell in zip(header[3:], cells[3:], strict=False):
            match = CELL.match(cell.strip("*").strip())
            if name in COLUMNS and match:
                files = COLUMN_FILES.get(name, "fewshot_")
                claims.append(Claim(task, way, shots, COLUMNS[name], match.group(1), files))
    return claims


def measured(results: Path) -> list[dict]:
    rows = []
    for path in sorted(results.glob("fewshot_*.json")):
        data = json.loads(path.read_text())
        for row in data.get("rows") or data.get("results", {}).get("rows", []):
            rows.append(row | {"file": path.name})
    return rows


def unsupported(readme: str, results: Path) -> list[str]:
    """The README's claims that no benchmark file supports, as readable lines."""
    rows, missing = measured(results), []
    for claim in read_claims(readme):
        found = [
            r["file"]
            for r in rows
            if (r["task"], str(r["way"]), int(r["shots"])) == (claim.task, claim.way, claim.shots)
            and r["file"].startswith(claim.files)
            and claim.key in r
            and claim.matches(r[claim.key]["accuracy"])
        ]
        if not found:
            missing.append(f"{claim.task} {claim.way}-way {claim.shots}-shot {claim.key}: {claim.accuracy}")
    return missing


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--readme", type=Path, default=ROOT / "README.md")
    parser.add_argument("--results", type=Path, default=ROOT / "bench_results")
    args = parser.parse_args()
    readme = args.readme.read_text()
    missing = unsupported(readme, args.results)
    print(f"{len(read_claims(readme))} accuracies in the README's few-shot tables, {len(missing)} without a file")
    for line in missing:
        print("  no file holds", line)
    raise SystemExit(1 if missing else 0)


if __name__ == "__main__":
    main()
