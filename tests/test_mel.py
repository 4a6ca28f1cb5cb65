from __future__ import annotations

import numpy as np
import pytest

from model.codec.mel import MelConfig, mel_filterbank


@pytest.mark.parametrize(
    "config",
    [MelConfig(), MelConfig(sample_rate=16_000, n_fft=400, hop_length=160, win_length=400)],  # HiFi-GAN, Whisper
    ids=["hifigan", "whisper"],
)
def test_slaney_filterbank_equals_librosa(config):
    librosa = pytest.importorskip("librosa")
    expected = librosa.filters.mel(
        sr=config.sample_rate, n_fft=config.n_fft, n_mels=config.n_mels, fmin=config.fmin, fmax=config.fmax
    )
    np.testing.assert_allclose(mel_filterbank(config).numpy(), expected, rtol=1e-4, atol=1e-7)
