"""A log-mel spectrogram as an RGB image (no matplotlib needed)."""

from __future__ import annotations

import numpy as np
import torch

from model.audio import resample
from model.codec.mel import LogMel

# A perceptually ordered dark-blue → teal → yellow ramp (anchor colours of the viridis map).
_ANCHORS = np.array([[68, 1, 84], [59, 82, 139], [33, 145, 140], [94, 201, 98], [253, 231, 37]], dtype=np.float32)


def colourise(values: np.ndarray) -> np.ndarray:
    """(H, W) in [0, 1] → (H, W, 3) uint8."""
    position = np.clip(values, 0, 1) * (len(_ANCHORS) - 1)
    low = np.floor(position).astype(int).clip(0, len(_ANCHORS) - 2)
    frac = (position - low)[..., None]
    return (_ANCHORS[low] * (1 - frac) + _ANCHORS[low + 1] * frac).astype(np.uint8)


def spectrogram_image(samples: np.ndarray, sample_rate: int = 16_000, height: int = 160) -> np.ndarray:
    """Log-mel (80 bands, low frequencies at the bottom), scaled to a fixed 80-dB range, upsampled to ``height``."""
    wav = resample(np.asarray(samples, dtype=np.float32), sample_rate, 22_050)
    mel = LogMel()(torch.from_numpy(wav)[None])[0].numpy()  # (80, T), natural log
    db = mel * (20 / np.log(10))
    scaled = (db - (db.max() - 80)) / 80
    image = colourise(scaled[::-1])
    return np.repeat(image, max(1, height // image.shape[0]), axis=0)
