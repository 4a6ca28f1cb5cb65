"""The committed demo set: complete, small, 16 kHz mono, licensed, and disjoint from the development set."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path

import pytest
import soundfile as sf

from demo_examples import build

ROOT = Path(build.__file__).parent
MANIFEST = json.loads((ROOT / "manifest.json").read_text())
CLIPS = MANIFEST["clips"]


def by_task(task: str) -> list[dict]:
    return [c for c in CLIPS if c["task"] == task]


def test_every_clip_exists_is_16k_mono_and_licensed():
    total = 0
    for clip in CLIPS:
        path = ROOT / clip["path"]
        info = sf.info(str(path))
        assert (info.samplerate, info.channels) == (16_000, 1), clip["path"]
        assert 0.1 < info.duration < 8, clip["path"]
        assert clip["source"] and clip["licence"], clip["path"]
        total += path.stat().st_size
    assert total <= 10 * 2**20
    on_disk = {p.relative_to(ROOT).as_posix() for p in ROOT.rglob("*.flac") if ".sources" not in p.parts}
    assert on_disk == {c["path"] for c in CLIPS}  # nothing unlisted, nothing missing


def test_spoken_commands_cover_ten_labels_with_four_voices_each():
    voices = defaultdict(set)
    for clip in by_task("commands"):
        voices[clip["label"]].add(clip["voice"])
    assert len(voices) >= 10 and all(len(v) >= 4 for v in voices.values())


@pytest.mark.parametrize(("task", "minimum"), [("sounds", 6), ("language", 4), ("style", 3)])
def test_classification_tasks_have_enough_classes(task, minimum):
    counts = Counter(c["label"] for c in by_task(task))
    assert len(counts) >= minimum and min(counts.values()) >= 2


def test_enhancement_pairs_match_and_vary():
    pairs = defaultdict(dict)
    for clip in by_task("enhance"):
        pairs[clip["pair"]][clip["role"]] = clip
    assert len(pairs) >= 5 and all(set(p) == {"clean", "noisy"} for p in pairs.values())
    for pair in pairs.values():
        clean, noisy = (sf.info(str(ROOT / pair[r]["path"])).frames for r in ("clean", "noisy"))
        assert clean == noisy
    assert len({p["noisy"]["label"] for p in pairs.values()}) >= 3
    assert len({p["noisy"]["snr_db"] for p in pairs.values()}) >= 2


def test_text_to_speech_pairs_have_digits_and_two_voices():
    tts = by_task("tts")
    assert len({c["voice"] for c in tts}) >= 2
    assert set(build.DIGITS) <= {c["text"] for c in tts}
    assert any(" " in c["text"] for c in tts)  # a multi-word text as well


def test_development_set_never_shares_a_voice_with_the_demo_set():
    assert not {v.id for v in build.DEMO_VOICES} & {v.id for v in build.DEV_VOICES}
    assert {c["voice"] for c in by_task("commands")} <= {v.id for v in build.DEMO_VOICES}
