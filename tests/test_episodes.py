"""Every benchmark number depends on episodes keeping support and query voices (or source files) apart."""

from __future__ import annotations

import pytest

from bench.episodes import group_of, sample_episodes, wilson_interval


def clips() -> list[dict]:
    out = []
    for label in ("yes", "no", "stop"):
        for voice in ("v1", "v2", "v3"):
            out.append(
                {"path": f"{label}/{voice}.wav", "label": label, "task": "commands", "voice": voice, "source": ""}
            )
    for label in ("bell", "door"):
        for source in ("s1.ogg", "s2.ogg"):
            for speed in ("", " speed 1.1"):
                path = f"{label}/{source}{speed}.wav"
                out.append({"path": path, "label": label, "task": "sounds", "voice": "", "source": source + speed})
    return out


@pytest.mark.parametrize(("task", "n_way", "k_shot"), [("commands", 2, 1), ("commands", 3, 2), ("sounds", 2, 1)])
def test_support_never_shares_the_query_group(task, n_way, k_shot):
    pool = [c for c in clips() if c["task"] == task]
    by_path = {c["path"]: c for c in pool}
    episodes = sample_episodes(pool, n_way, k_shot, 200, seed=1)
    assert len(episodes) == 200
    for episode in episodes:
        query_group = group_of(by_path[episode.query[0]])
        assert all(group_of(by_path[p]) != query_group for p, _ in episode.support)
        assert len(episode.support) == n_way * k_shot and episode.query[1] in episode.labels
        assert sorted({label for _, label in episode.support}) == sorted(episode.labels)


def test_speed_copies_of_one_sound_count_as_one_source():
    a, b = (c for c in clips() if c["source"].startswith("s1.ogg") and c["label"] == "bell")
    assert group_of(a) == group_of(b)


def test_episodes_are_the_same_for_the_same_seed():
    pool = [c for c in clips() if c["task"] == "commands"]
    assert sample_episodes(pool, 2, 1, 50, seed=3) == sample_episodes(pool, 2, 1, 50, seed=3)


def test_wilson_interval():
    low, high = wilson_interval(171, 200)  # equals the closed form with z = 1.96 (0.79951, 0.89711)
    assert low == pytest.approx(0.79951, abs=1e-4) and high == pytest.approx(0.89711, abs=1e-4)
    assert wilson_interval(0, 0) == (0.0, 0.0)
