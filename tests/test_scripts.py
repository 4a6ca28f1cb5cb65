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
