"""The log-mel spectrogram that the frozen HiFi-GAN vocoder was trained on (22,050 Hz, 80 bands up to 8 kHz).

Computed with ``torch.stft`` and a Slaney-style mel filterbank written here, so neither librosa nor
torchaudio is needed. Values are ``log(max(|STFT| · mel, 1e-5))``, as in the HiFi-GAN recipe.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class MelConfig:
    sample_rate: int = 22_050
    n_fft: int = 1024
    hop_length: int = 256
    win_length: int = 1024
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 8000.0

    @property
    def frame_rate(self) -> float:
        return self.sample_rate / self.hop_length


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's scale: linear below 1 kHz, logarithmic above."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / (200.0 / 3)
    log_part = 15.0 + np.log(np.maximum(hz, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_part, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0)), mel * (200.0 / 3))


def band_centres(config: MelConfig) -> np.ndarray:
    """(n_mels,) each filter's centre frequency in Hz."""
    return _mel_to_hz(np.linspace(_hz_to_mel(config.fmin), _hz_to_mel(config.fmax), config.n_mels + 2))[1:-1]


def mel_filterbank(config: MelConfig) -> torch.Tensor:
    """(n_mels, n_fft // 2 + 1) triangular filters, area-normalised (Slaney)."""
    fft_freqs = np.linspace(0, config.sample_rate / 2, config.n_fft // 2 + 1)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(config.fmin), _hz_to_mel(config.fmax), config.n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, None] - fft_freqs[None, :]
    lower = -ramps[:-2] / widths[:-1, None]
    upper = ramps[2:] / widths[1:, None]
    weights = np.maximum(0, np.minimum(lower, upper)) * (2.0 / (edges[2:] - edges[:-2]))[:, None]
    return torch.tensor(weights, dtype=torch.float32)


class LogMel(torch.nn.Module):
    """waveform (B, N) at ``config.sample_rate`` → log-mel (B, n_mels, N // hop_length)."""

    def __init__(self, config: MelConfig = MelConfig()):
        super().__init__()
        self.config = config
        self.register_buffer("filters", mel_filterbank(config), persistent=False)
        self.register_buffer("window", torch.hann_window(config.win_length), persistent=False)

    def forward(self, wav: torch.Tensor) -> torch.Tensor:
        c = self.config
        pad = (c.n_fft - c.hop_length) // 2  # HiFi-GAN's framing: one frame per hop, no centring
        wav = torch.nn.functional.pad(wav[:, None], (pad, pad), mode="reflect")[:, 0]
        spec = torch.stft(wav, c.n_fft, c.hop_length, c.win_length, self.window, center=False, return_complex=True)
        magnitude = torch.sqrt(spec.real**2 + spec.imag**2 + 1e-9)
        return torch.log(torch.clamp(self.filters @ magnitude, min=1e-5))
