from __future__ import annotations

import numpy as np
import pytest

from model.audio import (
    SAMPLE_RATE,
    Audio,
    AudioLimits,
    join_with_pauses,
    load_audio,
    normalize_peak,
    resample,
    save_audio,
)
from tests.conftest import sine


def dominant_frequency(audio: Audio) -> float:
    spectrum = np.abs(np.fft.rfft(audio.samples))
    return float(np.argmax(spectrum) * audio.sample_rate / len(audio.samples))


@pytest.mark.parametrize(
    ("suffix", "subtype"),
    [(".wav", "PCM_16"), (".flac", "PCM_24"), (".ogg", "VORBIS"), (".wav", "FLOAT"), (".wav", "PCM_U8")],
)
def test_files_become_16k_mono_float32(write_audio, suffix, subtype):
    stereo = np.stack([sine(1.0, 44_100, 1000), sine(1.0, 44_100, 1000)], axis=1)
    audio = load_audio(write_audio(f"clip{suffix}", stereo, 44_100, subtype=subtype))
    assert audio.sample_rate == SAMPLE_RATE
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert abs(len(audio.samples) - SAMPLE_RATE) <= 2
    assert dominant_frequency(audio) == pytest.approx(1000, abs=2)


def test_mp3_when_libsndfile_supports_it(write_audio):
    import soundfile as sf

    if "MP3" not in sf.available_formats():
        pytest.skip("this libsndfile has no MP3 support")
    audio = load_audio(write_audio("clip.mp3", sine(1.0, 16_000, 500), 16_000, format="MP3"))
    assert dominant_frequency(audio) == pytest.approx(500, abs=3)


def test_six_channel_96k_is_mixed_down_and_resampled(write_audio):
    channels = np.stack([sine(0.5, 96_000, 300)] * 6, axis=1)
    audio = load_audio(write_audio("surround.wav", channels, 96_000))
    assert abs(len(audio.samples) - 8000) <= 2
    assert dominant_frequency(audio) == pytest.approx(300, abs=3)


@pytest.mark.parametrize("dtype", [np.int16, np.int32, np.uint8, np.float64])
def test_arrays_of_any_dtype(dtype):
    x = sine(0.5, 8000, 200, amplitude=0.5)
    if np.issubdtype(dtype, np.integer):
        info = np.iinfo(dtype)
        offset = (info.max + 1) // 2 if info.min == 0 else 0  # unsigned: silence sits mid-range
        x = np.round(x * (info.max - offset) + offset).astype(dtype)
    audio = load_audio(x.astype(dtype), sample_rate=8000)
    assert len(audio.samples) == 8000
    assert 0.45 < audio.peak < 0.55  # ints scaled to [-1, 1]; unsigned 8-bit centred
    assert abs(float(audio.samples.mean())) < 0.02


def test_channel_axis_is_the_short_one():
    mono = sine(0.5, 16_000, 400)
    left_right = np.stack([mono, -mono])  # (2, N): channels first
    assert load_audio(left_right, 16_000, limits=AudioLimits(reject_silence=False)).samples.shape == (8000,)
    assert load_audio(np.stack([mono, mono], axis=1), 16_000).samples == pytest.approx(mono, abs=1e-6)


def test_missing_sample_rate_for_an_array():
    with pytest.raises(ValueError, match="sample rate"):
        load_audio(sine(0.5, 16_000))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p.write_bytes(b""), "empty"),
        (lambda p: p.write_text("this is not audio at all\n" * 20), "could not be read as audio"),
        (lambda p: p.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt "), "could not be read as audio"),
    ],
    ids=["empty", "text-named-wav", "truncated-header"],
)
def test_broken_files_are_refused_by_name(tmp_path, make, message):
    path = tmp_path / "broken.wav"
    make(path)
    with pytest.raises(ValueError, match=message) as caught:
        load_audio(path)
    assert "broken.wav" in str(caught.value)


def test_truncated_flac_is_refused(write_audio):
    path = write_audio("cut.flac", sine(2.0, 16_000), 16_000)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match=r"cut\.flac"):
        load_audio(path)


def test_missing_file():
    with pytest.raises(ValueError, match="no such file"):
        load_audio("/nonexistent/clip.wav")


def test_too_long_is_refused_before_reading(write_audio):
    path = write_audio("long.wav", np.zeros(16_000 * 4, dtype=np.float32), 16_000)
    with pytest.raises(ValueError, match=r"4\.0 s long, over the 3 s limit"):
        load_audio(path, limits=AudioLimits(max_seconds=3))


def test_too_short_and_zero_length(write_audio):
    with pytest.raises(ValueError, match="10 ms"):
        load_audio(write_audio("blip.wav", sine(0.01, 16_000), 16_000))
    with pytest.raises(ValueError, match=r"no (audio )?samples"):
        load_audio(write_audio("nothing.wav", np.zeros(0, dtype=np.float32), 16_000))


def test_non_finite_samples(write_audio):
    x = sine(0.5, 16_000)
    x[100] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        load_audio(write_audio("nan.wav", x, 16_000, subtype="FLOAT"))
    x[100] = np.inf
    with pytest.raises(ValueError, match="infinite"):
        load_audio(x, 16_000)


def test_silence_is_refused_unless_allowed():
    silence = np.zeros(16_000, dtype=np.float32)
    with pytest.raises(ValueError, match="silent"):
        load_audio(silence, 16_000, name="mic")
    audio = load_audio(silence, 16_000, limits=AudioLimits(reject_silence=False))
    assert normalize_peak(audio).samples.max() == 0.0  # no division by zero


def test_normalize_peak_and_dc_and_square():
    square = np.sign(sine(0.5, 16_000, 100)).astype(np.float32)
    assert normalize_peak(load_audio(square, 16_000)).peak == pytest.approx(0.95, abs=1e-3)
    dc = np.full(8000, 0.3, dtype=np.float32)
    with pytest.raises(ValueError, match="constant level"):
        load_audio(dc, 16_000)
    allowed = load_audio(dc, 16_000, limits=AudioLimits(reject_silence=False))
    assert normalize_peak(allowed, peak=0.5).peak == pytest.approx(0.5)


def test_resample_lengths_and_identity():
    x = sine(1.0, 22_050)
    assert resample(x, 22_050, 22_050) is x or np.array_equal(resample(x, 22_050, 22_050), x)
    assert abs(len(resample(x, 22_050, 16_000)) - 16_000) <= 1


def test_save_and_reload(tmp_path):
    audio = load_audio(sine(0.5, 16_000, 440), 16_000, name="tone")
    again = load_audio(save_audio(audio, tmp_path / "tone.flac"))
    assert np.abs(again.samples - audio.samples).max() < 1e-3


def test_join_with_pauses_puts_silence_only_between_pieces():
    a, b, c = np.ones(3, np.float32), 2 * np.ones(2, np.float32), 3 * np.ones(1, np.float32)
    joined = join_with_pauses([a, b, c], 2)
    assert joined.tolist() == [1, 1, 1, 0, 0, 2, 2, 0, 0, 3] and joined.dtype == np.float32
    assert join_with_pauses([a], 5).tolist() == [1, 1, 1]
    assert join_with_pauses([a, b], 0).tolist() == [1, 1, 1, 2, 2]
