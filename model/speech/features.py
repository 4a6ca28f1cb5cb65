"""What the adapter reads: Whisper-base encoder frames of a clip of any length (in chunks of Whisper's 30 s)."""

from __future__ import annotations

import numpy as np
import torch

CHUNK_SECONDS = 28.8  # under Whisper's 30 s, and a whole number of 4-frame groups (28.8 s = 1,440 frames)


class SpeechFeatures:
    """16 kHz samples (N,) → (ceil(N / 320), 512) float32 frames after ``layers`` encoder blocks.
    The encoder is injected (tests: a tiny random one) or read from the Whisper wheels on first use."""

    def __init__(self, layers: int = 6, encoder=None):
        self.layers = layers
        self._encoder = encoder

    @property
    def encoder(self):
        if self._encoder is None:
            from model.codec.whisper import WhisperEncoder

            self._encoder = WhisperEncoder.from_wheels(self.layers)
        return self._encoder

    def to(self, device: str | torch.device) -> SpeechFeatures:
        self.encoder.to(device)
        return self

    @torch.inference_mode()
    def __call__(self, samples: np.ndarray) -> torch.Tensor:
        device = self.encoder.positions.device
        chunk = int(CHUNK_SECONDS * 16_000)
        parts = []
        for start in range(0, max(1, len(samples)), chunk):
            piece = torch.from_numpy(np.ascontiguousarray(samples[start : start + chunk], dtype=np.float32))
            parts.append(self.encoder(piece[None].to(device))[0].float())
        return torch.cat(parts)
