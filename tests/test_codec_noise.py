"""bench.codec_noise: which clips it measures, the columns it reports per set of levels, and its paired
differences — with the tiny random codec and a stand-in quality measure (PESQ and DNSMOS are benchmark extras)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf

import bench.codec_noise as codec_noise
from model.debug import debug_pipeline


def write_dev(folder, snrs: list[float]) -> None:
    """A development set with one noisy/clean enhancement pair per SNR."""
    rng = np.random.default_rng(0)
    (folder / "enhance").mkdir(parents=True)
    clips = []
    t = np.arange(8000) / 16_000
    for i, snr in enumerate(snrs):
        clean = (0.3 * np.sin(2 * np.pi * (200 + 50 * i) * t)).astype(np.float32)
        noisy = (clean + 0.1 * rng.standard_normal(len(t))).astype(np.float32)
        sf.write(folder / f"enhance/pair{i:02d}_clean.flac", clean, 16_000)
        sf.write(folder / f"enhance/pair{i:02d}_noisy.flac", noisy, 16_000)
        clips.append({"task": "enhance", "role": "noisy", "pair": f"pair{i:02d}", "label": "white", "snr_db": snr})
        clips.append({"task": "enhance", "role": "clean", "pair": f"pair{i:02d}", "label": "clean"})
    (folder / "manifest.json").write_text(json.dumps({"clips": clips}))


def fake_quality(clean: np.ndarray, other: np.ndarray) -> dict:
    """A deterministic stand-in: the correlation with the clean clip, and the output's RMS."""
    n = min(len(clean), len(other))
    corr = float(np.corrcoef(clean[:n], other[:n])[0, 1]) if np.std(other[:n]) > 0 else 0.0
    return {"pesq": corr, "stoi": corr, "dnsmos": float(np.sqrt(np.mean(other**2)))}


def test_it_measures_the_noisy_clips_between_minus_5_and_5_db_at_every_set_of_levels(tmp_path, monkeypatch):
    monkeypatch.setattr(codec_noise, "quality", fake_quality)
    write_dev(tmp_path, [0.0, 10.0, -5.0, 5.0])
    codec = debug_pipeline().codec
    result = codec_noise.measure(codec, tmp_path, count=2)
    assert [row["pair"] for row in result["clips"]] == ["pair00", "pair02"]  # 10 dB is not a query; count=2
    sets = ["level 0", "levels 0–1", "all levels"]
    expected = {"noisy"} | {f"{which}, {name}" for name in sets for which in ("noisy", "clean")}
    assert set(result["mean"]) == expected
    for row in result["clips"]:
        assert row["noisy"]["pesq"] == pytest.approx(1.0, abs=0.2)  # the noisy clip is still close to the clean
    for name in sets:
        paired = result["paired"][f"noisy, {name} minus noisy"]["stoi"]
        differences = [row[f"noisy, {name}"]["stoi"] - row["noisy"]["stoi"] for row in result["clips"]]
        assert paired["mean"] == pytest.approx(np.mean(differences), abs=1e-3)
        assert paired["ci95"][0] <= paired["mean"] <= paired["ci95"][1]


def test_a_set_without_noisy_queries_is_a_clear_error(tmp_path):
    write_dev(tmp_path, [10.0, 20.0])
    with pytest.raises(ValueError, match="no noisy enhancement clips"):
        codec_noise.measure(debug_pipeline().codec, tmp_path, count=5)


def test_the_interval_of_paired_differences():
    rows = [{"system": {"stoi": d}, "baseline": {"stoi": 0.0}} for d in (1.0, 2.0, 3.0)]
    result = codec_noise.paired_difference(rows, "system", "baseline", "stoi")
    assert result["mean"] == 2.0
    assert result["ci95"] == pytest.approx([2.0 - 2.484, 2.0 + 2.484], abs=1e-3)  # t(0.975, 2) · 1 / √3 · √3


def test_real_words_counts_the_clips_heard_as_the_recording_is(tmp_path, monkeypatch):
    """bench.codec's words part: the recording's own transcript is the reference; a recording heard as nothing is
    left out."""
    pytest.importorskip("jiwer")  # requirements-bench.txt
    import model.speech.transcribe as transcribe
    from bench.codec import real_words

    codec = debug_pipeline().codec
    t = np.arange(8000) / 16_000
    clips = []
    for i, amplitude in enumerate([0.3, 0.01, 0.3]):
        path = tmp_path / f"word{i}.flac"
        sf.write(path, (amplitude * np.sin(2 * np.pi * 300 * t)).astype(np.float32), 16_000)
        clips.append({"path": str(path)})

    class Transcriber:
        """Hears "umbrella" in the two loud recordings, nothing in the quiet one, "thank you" in the codec's copies."""

        def __init__(self):
            self.calls = 0

        def __call__(self, samples):
            self.calls += 1
            if self.calls == 4:  # the quiet recording
                return ""
            return "Umbrella." if self.calls in (1, 5) else "Thank you."

    monkeypatch.setattr(transcribe, "Transcriber", Transcriber)
    result = real_words(codec, clips)
    assert result["clips"] == 2  # the quiet recording has no transcript to compare with
    assert [h["raw"] for h in result["heard"]] == ["umbrella", "umbrella"]
    # calls: raw 1, codec 2, levels 0–1 3 (first clip); quiet 4; raw 5, codec 6, levels 0–1 7 (third clip)
    assert result["codec"] == {"same_as_raw": 0, "wer_vs_raw": 2.0}
