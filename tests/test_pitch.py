"""The codec's pitch level: F0 ↔ codes, decoder features, and a codec that grows the level (tiny configs)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.audio import Audio
from model.codec.codes import Codes
from model.codec.mel import MelConfig, band_centres
from model.codec.pitch import PitchCoding, decoder_features, frame_pitch
from model.codec.train import _grown
from model.debug import debug_codec
from tests.conftest import sine


def test_codes_keep_f0_within_a_bin_and_voicing_exactly():
    coding = PitchCoding(stride=5)
    rng = np.random.default_rng(0)
    log2_f0 = rng.uniform(np.log2(60), np.log2(500), 40).repeat(5).astype(np.float32)
    voiced = rng.random(40).repeat(5) > 0.3
    contour, voicing = coding.decode(coding.encode(log2_f0, voiced))
    assert np.array_equal(voicing > 0.5, voiced)
    at_centres = contour[2::5][voiced[::5]]  # the code centres, where no interpolation mixes neighbours in
    bin_width = (np.log2(600) - np.log2(50)) / coding.bins
    assert np.abs(at_centres - log2_f0[2::5][voiced[::5]]).max() <= bin_width / 2 + 1e-6


@pytest.mark.parametrize("frames", [5, 20, 35, 100])
def test_one_code_per_stride_and_all_unvoiced_is_code_zero(frames):
    coding = PitchCoding(stride=5)
    codes = coding.encode(np.full(frames, 7.0, np.float32), np.zeros(frames, bool))
    assert codes.shape == (frames // 5,) and not codes.any()
    contour, voicing = coding.decode(codes)
    assert contour.shape == voicing.shape == (frames,) and not voicing.any()


def test_encode_refuses_frames_off_the_stride():
    with pytest.raises(ValueError, match="multiple of the pitch stride"):
        PitchCoding(stride=5).encode(np.zeros(12, np.float32), np.zeros(12, bool))


def test_the_comb_peaks_on_harmonics():
    bands = np.array([100.0, 150.0, 200.0, 300.0])
    features = decoder_features(np.full(3, np.log2(100.0), np.float32), np.ones(3, np.float32), bands)
    assert features.shape == (6, 3)
    assert np.allclose(features[2:, 0], [1, -1, 1, 1], atol=1e-5)
    assert not decoder_features(np.full(3, 7.0, np.float32), np.zeros(3, np.float32), bands).any()


def test_band_centres_rise_from_zero_to_fmax():
    centres = band_centres(MelConfig())
    assert len(centres) == 80 and 0 < centres[0] < centres[-1] < 8000 and np.all(np.diff(centres) > 0)


def test_praat_finds_a_sung_tone_and_no_pitch_in_silence():
    times = np.arange(20) * 0.05 + 0.1
    log2_f0, voiced = frame_pitch(sine(1.2, 16_000, 220.0), 16_000, times)
    assert voiced.all() and np.allclose(np.exp2(log2_f0), 220.0, rtol=0.01)
    _, silent = frame_pitch(np.zeros(16_000, np.float32), 16_000, times)
    assert not silent.any()


@pytest.fixture(scope="module")
def codec():
    return debug_codec(seed=0, pitch_stride=5)


@pytest.mark.parametrize("seconds", [0.3, 1.0, 1.37, 2.5])
def test_the_pitch_level_comes_last_at_its_own_rate(codec, seconds):
    codes = codec.encode(Audio(sine(seconds, 16_000, 180.0) * 0.4))
    assert codes.num_levels == codec.config.num_levels == 4 and codec.config.pitch_level == 3
    frames = codec.mel_frames(int(seconds * 16_000))
    assert frames % codec.config.frame_multiple == 0
    assert codes.lengths()[1:] == [frames // 4, frames // 2, frames // 5]
    assert np.isclose(codec.config.frame_rates[-1], 22_050 / 256 / 5)
    assert set(codes.levels[3].tolist()) <= set(codec.config.level_rows[3])
    assert len(codec.decode(codes).samples) == int(seconds * 16_000)


def test_pitch_codes_round_trip_through_token_ids(codec, tiny_lm, tiny_tables):
    from model.vocab import VocabMap

    vocab = VocabMap.for_tokenizer(tiny_tables, tiny_lm.tokenizer)
    codes = codec.encode(Audio(sine(1.0, 16_000, 150.0) * 0.4))
    back = vocab.codes_from_token_ids(vocab.to_token_ids(codes))
    assert all(torch.equal(a, b) for a, b in zip(codes.levels, back.levels, strict=True))


def test_save_then_load_keeps_the_pitch_level(codec, tmp_path):
    from model.debug import debug_semantic

    codes = codec.encode(Audio(sine(1.0, 16_000, 150.0) * 0.4))
    codec.save_pretrained(tmp_path / "ckpt")
    loaded = type(codec).from_pretrained(tmp_path / "ckpt", semantic=debug_semantic, vocoder=codec.vocoder)
    assert loaded.config.pitch_stride == 5 and loaded.config.num_levels == 4
    assert np.allclose(codec.decode(codes).samples, loaded.decode(codes).samples, atol=1e-3)


def test_a_grown_pitch_level_starts_out_decoding_as_before():
    plain, grown = debug_codec(seed=0), debug_codec(seed=0, pitch_stride=5)
    grown.load_state_dict(plain.state_dict(), strict=False)  # what resuming a pitch-less state does
    codes = grown.encode(Audio(sine(1.0, 16_000, 150.0) * 0.4))
    without = Codes(codes.levels[:3], codes.num_samples)
    head = slice(0, 12_000)  # the grown codec pads to 20 frames, not 4: only the last frames see other padding
    assert np.allclose(plain.decode(without).samples[head], grown.decode(codes).samples[head], atol=1e-6)
    assert np.allclose(grown.decode(without).samples, grown.decode(codes).samples, atol=1e-6)


def test_the_optimiser_state_grows_with_the_model():
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(model.parameters())
    model(torch.ones(1, 3)).sum().backward()
    optimizer.step()
    saved = optimizer.state_dict()
    bigger = [*model.parameters(), torch.nn.Parameter(torch.zeros(4))]
    fresh = torch.optim.AdamW(bigger)
    fresh.load_state_dict(_grown(saved, len(bigger)))
    assert len(fresh.state) == 2
    assert torch.equal(fresh.state[bigger[0]]["exp_avg"], optimizer.state[model.weight]["exp_avg"])
    with pytest.raises(ValueError, match="only 1"):
        _grown(saved, 1)
