"""Shared fixtures: tiny random models (no files, no network) and audio files made on the fly."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from model.debug import DEBUG_TABLES, debug_lm, debug_tokenizer


@pytest.fixture(scope="session")
def tiny_lm():
    return debug_lm()


@pytest.fixture(scope="session")
def tiny_tokenizer():
    return debug_tokenizer()


@pytest.fixture(scope="session")
def tiny_tables():
    return DEBUG_TABLES


def sine(seconds: float, rate: int, freq: float = 440.0, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


@pytest.fixture
def write_audio(tmp_path):
    """write_audio(name, samples, rate, **soundfile kwargs) -> path of a real audio file."""

    def write(name: str, samples: np.ndarray, rate: int, **kwargs):
        path = tmp_path / name
        sf.write(path, samples, rate, **kwargs)
        return path

    return write


@pytest.fixture(scope="session")
def server_url():
    """The real app (``python app.py --lm tiny``) on a free 127.0.0.1 port, shared by the server tests."""
    from bench.serving import running_app

    try:
        with running_app("--lm", "tiny") as app:
            yield app.url
    except RuntimeError as error:
        pytest.fail(str(error))
