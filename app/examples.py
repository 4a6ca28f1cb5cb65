"""One-click example tasks, built from demo_examples/manifest.json (only names listed here can be loaded)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

STYLES = ("fast", "slow", "high pitch", "low pitch", "whisper")
EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "demo_examples"


@dataclass(frozen=True)
class ClassifyExample:
    demos: list[tuple[str, str]]  # (absolute path, label)
    query: str


@cache
def _clips() -> tuple[dict, ...]:
    manifest = json.loads((EXAMPLES_DIR / "manifest.json").read_text())
    return tuple(manifest["clips"])


def path(rel: str) -> str:
    """Absolute path of a clip in demo_examples/, refusing anything that would leave the folder."""
    resolved = (EXAMPLES_DIR / rel).resolve()
    if not resolved.is_relative_to(EXAMPLES_DIR) or not resolved.is_file():
        raise ValueError(f"{rel!r} is not one of the example clips.")
    return str(resolved)


def _pick(task: str, labels: list[str], demo_voices: list[str], query: tuple[str, str]) -> ClassifyExample:
    clips = [c for c in _clips() if c["task"] == task]
    demos = [
        (path(c["path"]), c["label"])
        for c in clips
        if c["label"] in labels and (c["voice"] or c["path"]) in demo_voices
    ]
    target = next(c for c in clips if c["label"] == query[0] and (c["voice"] or c["path"]) == query[1])
    return ClassifyExample(demos, path(target["path"]))


def classify_examples() -> dict[str, ClassifyExample]:
    sounds = [c for c in _clips() if c["task"] == "sounds"]
    first = {c["label"]: c["path"] for c in reversed(sounds)}
    second = {c["label"]: c["path"] for c in sounds}
    sound_labels = ["break glass", "water footstep", "grass footstep"]
    languages = [c for c in _clips() if c["task"] == "language"]
    language_demos = _first_per_label(languages, 2)
    return {
        "Spoken digits (5-way, 2 voices each)": _pick(
            "commands",
            ["one", "two", "three", "four", "five"],
            ["flite:slt", "espeak-ng:en-us+f3"],
            ("three", "flite:rms"),
        ),
        "Yes / no / stop / go (4-way)": _pick(
            "commands", ["yes", "no", "stop", "go"], ["flite:slt", "espeak-ng:en-gb+m3"], ("stop", "flite:rms")
        ),
        "Sound events (3-way)": ClassifyExample(
            [(path(first[label]), label) for label in sound_labels], path(second["water footstep"])
        ),
        "Spoken language (4-way, 2 each)": ClassifyExample(
            [(path(c["path"]), c["label"]) for c in language_demos],
            path(next(c for c in languages if c not in language_demos and c["label"] == "German")["path"]),
        ),
        "Speaking style (5-way)": _pick(
            "style", list(STYLES), ["espeak-ng:en-us+f3"], ("whisper", "espeak-ng:en-gb+m3")
        ),
    }


def _first_per_label(clips: list[dict], count: int) -> list[dict]:
    seen: dict[str, int] = {}
    out = []
    for clip in clips:
        if seen.get(clip["label"], 0) < count:
            seen[clip["label"]] = seen.get(clip["label"], 0) + 1
            out.append(clip)
    return out


def enhance_example() -> tuple[list[str], list[str], str]:
    """(noisy clips, clean clips, noisy query): four demonstration pairs and a fifth noisy clip."""
    pairs = sorted({c["pair"] for c in _clips() if c["task"] == "enhance"})
    noisy = [path(f"enhance/{p}_noisy.flac") for p in pairs[:4]]
    clean = [path(f"enhance/{p}_clean.flac") for p in pairs[:4]]
    return noisy, clean, path(f"enhance/{pairs[4]}_noisy.flac")


def synthesize_example() -> tuple[list[tuple[str, str]], str]:
    """(text, clip) pairs of one voice for the ten digits, and a text to speak."""
    tts = [c for c in _clips() if c["task"] == "tts" and c["voice"] == "flite:slt" and " " not in c["text"]]
    return [(c["text"], path(c["path"])) for c in tts], "3 1 2"


def explorer_example() -> str:
    return path("commands/seven/flite_slt.flac")


def classify_rows() -> tuple[list[list], list[str]]:
    """gr.Examples rows for the classify tab, [demonstration files, label table, query], and their names."""
    found = classify_examples()
    rows = [[[p for p, _ in e.demos], [[Path(p).name, label] for p, label in e.demos], e.query] for e in found.values()]
    return rows, list(found)


def synthesize_row() -> list:
    """The synthesize tab's example: [clip files, text table, text to speak]."""
    pairs, text = synthesize_example()
    return [[p for _, p in pairs], [[Path(p).name, t] for t, p in pairs], text]


def ask_examples() -> list[list[str]]:
    """The Ask tab's examples: [clip, instruction, path] — a spoken digit, through each path."""
    clip = path("commands/seven/flite_slt.flac")
    instruction = "<speech>\nWhich number is this? Answer with the digit."
    return [[clip, instruction, "direct"], [clip, instruction, "cascade"]]
