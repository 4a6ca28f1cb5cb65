"""The real codec checkpoint with the real bundled LLMs and the real demo clips. Offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from model.audio import load_audio
from model.icl.pipeline import ICLPipeline

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo_examples"


def clip(path: str) -> str:
    return str(DEMO / path)


@pytest.fixture(scope="module")
def pipeline():
    return ICLPipeline.from_pretrained("tiny", device="cpu")


def test_the_checkpoint_reconstructs_a_clip_at_its_length(pipeline):
    audio = load_audio(clip("commands/five/flite_slt.flac"))
    codes = pipeline.codec.encode(audio)
    assert len(pipeline.codec.decode(codes).samples) == len(audio.samples)
    words = pipeline.tokenize(audio).text[0]
    assert words and all(w.isalpha() and w.islower() for w in words)


def test_classify_with_real_models(pipeline):
    demos = [(clip("commands/five/flite_slt.flac"), "five"), (clip("commands/nine/flite_slt.flac"), "nine")]
    result = pipeline.classify(clip("commands/five/flite_rms.flac"), demos)
    assert sum(result.probs.values()) == pytest.approx(1.0) and len(result.evidence) == 2


def test_fewshot_cli_answers_and_survives_a_broken_line():
    request = {
        "protocol": "fewshot-v1",
        "episode_id": "x",
        "task": "kws",
        "labels": ["five", "nine"],
        "support": [
            {"path": clip("commands/five/flite_slt.flac"), "label": "five"},
            {"path": clip("commands/nine/flite_slt.flac"), "label": "nine"},
        ],
        "query": {"path": clip("commands/nine/flite_rms.flac")},
    }
    lines = "\n".join([json.dumps(request), "{broken", json.dumps(request)]) + "\n"
    done = subprocess.run(
        [sys.executable, "-m", "model", "--lm", "tiny", "fewshot", "--jsonl"],
        input=lines,
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
        check=True,
    )
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(answers) == 3
    assert answers[0]["label"] in ("five", "nine") and "error" in answers[1] and answers[2] == answers[0]
