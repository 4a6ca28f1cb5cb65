"""Level 0's input: a frozen speech encoder that says *what* was said, not *who* said it.

Without a semantic anchor, the coarse codes of two voices saying the same word share almost no ids (a 1-shot
nearest neighbour on level-0 token overlap: 0.56 2-way, ../shared/DATA.md). We use the speech-embedding
model shipped in the ``openwakeword==0.4.0`` wheel (two small ONNX files: a 32-band log-mel and a 96-d
embedding of each 0.76-s window, every 80 ms), trained for keyword spotting across speakers. Quantised onto a
few hundred words, it gives ids that repeat across voices (see ``bench/`` and the model card). That was v1;
v2 uses a middle block of Whisper base (``WhisperFeatures``), whose features separate words across voices far
better (../shared/DATA.md: DTW 1-shot 0.99 / 0.95 against openwakeword's 0.965 5-way on mean-pooled features).
"""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path

import numpy as np
import torch

PIP_INSTALL = "pip install onnxruntime && pip install --no-deps openwakeword==0.4.0"
HOP = 1280  # samples at 16 kHz between embeddings (80 ms): level 0 runs at 12.5 Hz
_WINDOW = 76  # mel frames (10 ms each) per embedding
_STEP = 8  # mel frames between embeddings
_CONTEXT = 0.38  # seconds of silence added on each side, so every window is centred on its 80-ms slot


def _models_dir() -> Path:
    spec = importlib.util.find_spec("openwakeword")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"The speech-embedding model is not installed. Install it with:\n  {PIP_INSTALL}")
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "models"


class SpeechEmbedder:
    """16 kHz mono samples (N,) → (ceil(N / 1280), 96) float32 embeddings. Loads its two ONNX graphs lazily."""

    dim = 96

    def __init__(self, threads: int = 2):
        self.threads = threads
        self._sessions = None

    def _load(self):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.log_severity_level = 3
        folder = _models_dir()
        return tuple(
            ort.InferenceSession(str(folder / name), options, providers=["CPUExecutionProvider"])
            for name in ("melspectrogram.onnx", "embedding_model.onnx")
        )

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        if self._sessions is None:
            self._sessions = self._load()
        mel_model, embedding_model = self._sessions
        frames = math.ceil(len(samples) / HOP)
        pad = np.zeros(int(_CONTEXT * 16_000), dtype=np.float32)
        tail = np.zeros(frames * HOP - len(samples), dtype=np.float32)
        padded = np.concatenate([pad, samples.astype(np.float32), tail, pad])
        # The model expects int16-scaled floats and its own affine rescaling of the log-mel.
        mel = mel_model.run(None, {"input": (padded * 32767.0)[None]})[0].squeeze(axis=(0, 1)) / 10.0 + 2.0
        if len(mel) < _WINDOW + _STEP * (frames - 1):
            mel = np.pad(mel, ((0, _WINDOW + _STEP * (frames - 1) - len(mel)), (0, 0)), mode="edge")
        windows = np.stack([mel[i * _STEP : i * _STEP + _WINDOW] for i in range(frames)])[..., None]
        out = embedding_model.run(None, {"input_1": windows.astype(np.float32)})[0]
        return out.reshape(frames, self.dim).astype(np.float32)


class WhisperFeatures:
    """16 kHz mono samples (N,) → (ceil(N / hop), 512) float32: Whisper-base features after block ``layer``,
    averaged over ``hop / 320`` encoder frames (hop 1280: 12.5 Hz; 640: 25 Hz). Loads the encoder lazily."""

    dim = 512
    chunk_seconds = 28.8  # Whisper reads at most 30 s; a multiple of every hop we use

    def __init__(self, layer: int = 5, hop: int = 1280, encoder=None):
        from model.codec.whisper import HOP as WHISPER_HOP

        if hop % WHISPER_HOP:
            raise ValueError(f"hop must be a multiple of {WHISPER_HOP} samples, got {hop}")
        self.layer, self.hop, self._per_code = layer, hop, hop // WHISPER_HOP
        self._encoder = encoder  # tests inject a tiny random one; by default the wheels' weights, on first use
        self._device = torch.device("cpu")
        if encoder is not None:
            self.dim = encoder.config.width

    @property
    def encoder(self):
        if self._encoder is None:
            from model.codec.whisper import WhisperEncoder

            self._encoder = WhisperEncoder.from_wheels(self.layer).to(self._device)
        return self._encoder

    def to(self, device: str | torch.device) -> WhisperFeatures:
        """Run the encoder on ``device`` (now, or when it loads): the codec moves it with itself."""
        self._device = torch.device(device)
        if self._encoder is not None:
            self._encoder.to(self._device)
        return self

    @torch.inference_mode()
    def __call__(self, samples: np.ndarray) -> np.ndarray:
        frames = max(1, math.ceil(len(samples) / self.hop))
        padded = np.zeros(frames * self.hop, dtype=np.float32)
        padded[: len(samples)] = samples
        chunk = int(self.chunk_seconds * 16_000)
        parts = [self._features(padded[i : i + chunk]) for i in range(0, len(padded), chunk)]
        return np.concatenate(parts).astype(np.float32)

    def _features(self, samples: np.ndarray) -> np.ndarray:
        hidden = self.encoder(torch.from_numpy(samples)[None].to(self.encoder.positions.device))[0]  # (T, 512)
        return hidden.reshape(-1, self._per_code, self.dim).mean(dim=1).float().cpu().numpy()
