"""A quick quality check during training: PESQ-wb and STOI of a few held-out real-speech clips, all levels.

Small on purpose (it runs every ``eval_every`` steps, inside the training budget); ``bench/codec.py`` is the
full benchmark. Needs the evaluation extras (``pip install pesq pystoi``).
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import numpy as np

from model.audio import load_audio


class QuickEval:
    """Callable: codec → {"pesq": …, "stoi": …, "pesq_levels01": …} on the first ``clips`` clean dev clips."""

    def __init__(self, manifest: Path, clips: int = 6):
        entries = json.loads(Path(manifest).read_text())["clips"]
        chosen = [c for c in entries if c["task"] == "enhance" and c["role"] == "clean"][:clips]
        self.audio = [load_audio(Path(manifest).parent / c["path"]) for c in chosen]

    def __call__(self, codec) -> dict:
        from pesq import pesq
        from pystoi import stoi

        was_training = codec.training
        codec.eval()
        scores: dict[str, list[float]] = {"pesq": [], "stoi": [], "pesq_levels01": []}
        for audio in self.audio:
            codes = codec.encode(audio)
            full = codec.decode(codes).samples
            coarse = codec.decode(codes.upto(1)).samples
            with contextlib.suppress(Exception):  # pesq refuses clips without enough speech activity
                scores["pesq"].append(pesq(16_000, audio.samples, full, "wb"))
                scores["pesq_levels01"].append(pesq(16_000, audio.samples, coarse, "wb"))
            scores["stoi"].append(stoi(audio.samples, full, 16_000))
        codec.train(was_training)
        return {k: round(float(np.mean(v)), 3) for k, v in scores.items() if v}
