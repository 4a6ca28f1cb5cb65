from __future__ import annotations

from pathlib import Path

from bench.readme_numbers import read_claims, unsupported

ROOT = Path(__file__).resolve().parent.parent


def test_every_few_shot_number_in_the_readme_comes_from_a_result_file():
    readme = (ROOT / "README.md").read_text()
    assert len(read_claims(readme)) >= 40
    assert unsupported(readme, ROOT / "bench_results") == []


def test_a_number_no_file_holds_is_reported():
    readme = (ROOT / "README.md").read_text()
    row = "| commands | 2 | 1 | 0.50 | 0.83 [0.77, 0.88] |"
    assert row in readme
    changed = readme.replace(row, "| commands | 2 | 1 | 0.50 | 0.93 [0.89, 0.96] |")
    assert unsupported(changed, ROOT / "bench_results") == ["commands 2-way 1-shot default/ours: 0.93"]


def test_a_codec_specific_column_only_takes_that_codec_s_files():
    """0.855 is v1's channel cell (fewshot_channel.json): it cannot stand in v2's column."""
    table = "| task | N | K | chance | channel | v2 channel, level 0 |\n|---|---|---|---|---|---|\n"
    v1_cell = table + "| commands | 2 | 1 | 0.50 | 0.855 [0.80, 0.90] | 0.855 [0.80, 0.90] |\n"
    assert unsupported(v1_cell, ROOT / "bench_results") == ["commands 2-way 1-shot default/channel: 0.855"]
