"""Every command the README documents starts from any folder of a fresh clone (after scripts/setup.sh)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCRIPTS = [
    [str(ROOT / "scripts" / "build_train_set.py")],
    [str(ROOT / "scripts" / "build_vocab_tables.py")],
    [str(ROOT / "scripts" / "build_ask_set.py")],
    [str(ROOT / "demo_examples" / "build.py")],
    ["-m", "model"],
    ["-m", "model.codec.train"],
    ["-m", "model.codec.kit"],
    ["-m", "model.speech.train"],
    *(
        ["-m", f"bench.{name}"]
        for name in ("codec", "level0", "fewshot", "calibration", "generation", "latency", "int8")
    ),
    *(["-m", f"bench.{name}"] for name in ("load", "app_timing", "gpu", "ask", "decode_speed")),
]


@pytest.mark.integration  # a fresh interpreter per script: ~2 s each
@pytest.mark.parametrize("command", SCRIPTS, ids=lambda c: c[-1].rsplit("/", 1)[-1])
def test_documented_command_shows_its_help_from_another_folder(command, tmp_path):
    result = subprocess.run(
        [sys.executable, *command, "--help"], cwd=tmp_path, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "usage:" in result.stdout


def test_the_shipped_codec_is_where_the_pipeline_looks():
    from model.icl.pipeline import DEFAULT_CODEC

    assert DEFAULT_CODEC == ROOT / "checkpoints" / "codec"
    assert (DEFAULT_CODEC / "config.json").is_file() and (DEFAULT_CODEC / "model.safetensors").is_file()


def test_a_read_aloud_word_list_draws_6_to_10_of_the_given_words_more_often_the_heavier_ones():
    import random

    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        from build_ask_set import word_list
    finally:
        sys.path.remove(str(ROOT / "scripts"))
    rng = random.Random(0)
    lists = [word_list(["kenya", "Italy", "wheels"], [1.0, 1.0, 8.0], rng) for _ in range(200)]
    for text in lists:
        assert text[0].isupper() and text.endswith(".")
        words = text[:-1].split(", ")
        assert 6 <= len(words) <= 10 and {w.lower() for w in words} <= {"kenya", "italy", "wheels"}
    said = " ".join(lists)
    assert said.count("wheels") > 3 * said.count("Italy") > 0


def test_the_release_script_parses_and_asks_for_its_output_folder(tmp_path):
    script = ROOT / "scripts" / "release_codec.sh"
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True).returncode == 0
    result = subprocess.run(["bash", str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=30)
    assert result.returncode != 0 and "usage: scripts/release_codec.sh OUT_FOLDER" in result.stderr
