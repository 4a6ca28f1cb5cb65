"""N-way K-shot episodes from a manifest, with support and query from disjoint voices (speech) or source
files (sounds), sampled with a fixed seed so every method sees the same episodes."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Episode:
    labels: tuple[str, ...]
    support: tuple[tuple[str, str], ...]  # (absolute path, label)
    query: tuple[str, str]


def group_of(clip: dict) -> str:
    """What must not be shared between support and query: the voice, else the original source file.
    Spoken language is the exception: its real recordings have one voice per language, so only the source
    files can be kept apart (language and voice are confounded there; the note on the benchmark says so)."""
    if clip["task"] == "language" or not clip["voice"]:
        return clip["source"].split(" speed")[0]
    return clip["voice"]


def load_clips(manifest: Path, task: str) -> list[dict]:
    root = manifest.parent
    return [
        dict(c, path=str((root / c["path"]).resolve()))
        for c in json.loads(manifest.read_text())["clips"]
        if c["task"] == task
    ]


def sample_episodes(clips: list[dict], n_way: int | None, k_shot: int, count: int, seed: int = 0) -> list[Episode]:
    """``count`` episodes; ``n_way=None`` means all labels. The query's group never appears in the support."""
    rng = random.Random(seed)
    labels = sorted({c["label"] for c in clips})
    n = len(labels) if n_way is None else n_way
    episodes, attempts = [], 0
    while len(episodes) < count and attempts < count * 50:
        attempts += 1
        chosen = rng.sample(labels, n)
        answer = rng.choice(chosen)
        query = rng.choice([c for c in clips if c["label"] == answer])
        support = []
        for label in chosen:
            pool = [c for c in clips if c["label"] == label and group_of(c) != group_of(query)]
            if len(pool) < k_shot:
                break
            support += [(c["path"], label) for c in rng.sample(pool, k_shot)]
        else:
            rng.shuffle(support)
            episodes.append(Episode(tuple(chosen), tuple(support), (query["path"], answer)))
    return episodes


def wilson_interval(correct: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of a proportion (scipy's)."""
    from scipy.stats import binomtest

    if total == 0:
        return (0.0, 0.0)
    interval = binomtest(correct, total).proportion_ci(confidence_level=confidence, method="wilson")
    return (float(interval.low), float(interval.high))
