"""On a GPU (skipped without CUDA): the library computes there what it computes on the CPU, and training and the
GPU kit run there. ``python -m bench.gpu run`` runs these on a lent GPU machine; their output is in its result.
Only model-side imports: the GPU machine has no gradio."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.audio import Audio
from model.codec import kit
from model.codec.train import Run, train
from model.debug import debug_codec, debug_pipeline
from tests.conftest import sine
from tests.test_codec_training import config, tiny_codec  # noqa: F401  (the fixture)
from tests.test_kit import packed  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def tone(freq: float) -> Audio:
    return Audio(sine(0.8, 16_000, freq))


def test_codec_encodes_and_decodes_there_as_here():
    here, there = debug_codec(seed=0), debug_codec(seed=0).to("cuda")
    audio = Audio(sine(1.0, 16_000, 330) * 0.3)
    codes_here, codes_there = here.encode(audio), there.encode(audio)
    for a, b in zip(codes_here.levels, codes_there.levels, strict=True):
        assert (a == b.cpu()).float().mean() >= 0.95  # nearest-code ties may fall either way
    decoded_here, decoded_there = here.decode(codes_here).samples, there.decode(codes_here).samples
    assert np.allclose(decoded_here, decoded_there, atol=1e-3)


def test_classification_there_agrees_with_here():
    demos = [(tone(300), "yes"), (tone(900), "no"), (tone(320), "yes"), (tone(950), "no")]
    here, there = debug_pipeline(), debug_pipeline()
    there.codec.to("cuda")
    there.lm.model.to("cuda")
    for freq in (310, 700, 930):
        a, b = here.classify(tone(freq), demos), there.classify(tone(freq), demos)
        assert a.label == b.label
        assert all(abs(a.probs[k] - b.probs[k]) < 1e-3 for k in a.probs)


def test_training_runs_there(config, tmp_path):  # noqa: F811
    run = Run(tmp_path / "run")
    assert train(run, config, 6, make_codec=tiny_codec, device="cuda") == 6
    state = run.load_state()
    assert all(torch.isfinite(v).all() for v in state["model"].values())


def test_a_kit_session_runs_there(packed, tmp_path):  # noqa: F811
    items, rows, state = packed
    kit.pack_kit(items, items[:2], rows, state, tmp_path / "kit", max_bytes=2**22)
    result = kit.train_from_kit(tmp_path / "kit", tmp_path / "out", minutes=1, device="cuda", batch=4, steps=9)
    assert result["end_step"] == 9 and result["device"] != "cpu"
    assert (tmp_path / "out" / "checkpoint" / "model.safetensors").is_file()
