"""Level 0's semantic encoder: Whisper's architecture with tiny random weights (the real weights are tested by
the integration test below against CTranslate2's own encoder output)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from model.codec.semantic import WhisperFeatures
from model.codec.whisper import HOP, WhisperConfig, WhisperEncoder


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    encoder = WhisperEncoder(WhisperConfig(width=32, heads=4, layers=2, max_frames=1500)).eval()
    torch.nn.init.normal_(encoder.positions, std=0.02)
    return encoder


@pytest.mark.parametrize("hop", [640, 1280])
@pytest.mark.parametrize("samples", [1, 319, 320, 639, 640, 641, 16_000, 16_001, 3 * 16_000 + 7, 29 * 16_000 + 1])
def test_one_code_per_hop_for_any_length(tiny, hop, samples):
    features = WhisperFeatures(layer=2, hop=hop, encoder=tiny)
    out = features(np.random.default_rng(samples).standard_normal(samples).astype(np.float32) * 0.1)
    assert out.shape == (max(1, math.ceil(samples / hop)), 32) and out.dtype == np.float32
    assert np.isfinite(out).all()


def test_features_of_a_long_clip_are_computed_in_chunks_under_30_s(tiny):
    features = WhisperFeatures(layer=2, hop=640, encoder=tiny)
    assert features(np.zeros(45 * 16_000, dtype=np.float32)).shape == (45 * 25, 32)


def test_the_encoder_runs_at_50_hz_and_refuses_more_than_30_s(tiny):
    assert tiny(torch.zeros(1, 16_000)).shape == (1, 16_000 // HOP, 32)
    with pytest.raises(ValueError, match="at most 30 s"):
        tiny(torch.zeros(1, 31 * 16_000))


def test_a_hop_that_is_not_a_multiple_of_the_encoders_is_refused():
    with pytest.raises(ValueError, match="multiple of 320"):
        WhisperFeatures(hop=1000)


@pytest.mark.integration
def test_the_wheels_encoder_matches_ctranslate2(tmp_path):
    import shutil

    ctranslate2 = pytest.importorskip("ctranslate2")  # requirements-bench.txt (faster-whisper)
    from faster_whisper.feature_extractor import FeatureExtractor

    from model.codec.whisper import read_ctranslate2, weights_file

    parts = weights_file()
    folder = tmp_path / "whisper-base"  # the two halves joined, as CTranslate2 reads them
    folder.mkdir()
    (folder / "model.bin").write_bytes(b"".join(p.read_bytes() for p in parts))
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copy(parts[0].parent / name, folder / name)
    audio = np.zeros(480_000, dtype=np.float32)
    audio[:16_000] = np.sin(np.linspace(0, 2000, 16_000)).astype(np.float32) * 0.3
    encoder = WhisperEncoder.from_wheels(6)
    variables = read_ctranslate2(weights_file())
    with torch.inference_mode():
        ours = torch.nn.functional.layer_norm(
            encoder(torch.from_numpy(audio)[None]), (512,), variables["layer_norm/gamma"], variables["layer_norm/beta"]
        )[0]
    reference = ctranslate2.models.Whisper(str(folder))
    features = np.ascontiguousarray(FeatureExtractor()(audio)[:, :3000], dtype=np.float32)
    theirs = torch.from_numpy(np.array(reference.encode(ctranslate2.StorageView.from_array(features[None]))))[0]
    assert torch.nn.functional.cosine_similarity(ours, theirs.float(), dim=-1).min() > 0.999


def test_the_codec_moves_its_whisper_encoder_with_itself():
    from model.codec.model import LLMCodec
    from model.debug import debug_codec

    encoder = WhisperEncoder(WhisperConfig(width=32, heads=4, layers=2, max_frames=1500)).eval()
    moved = []
    encoder.to = lambda device: moved.append(torch.device(device))  # record where it is sent
    features = WhisperFeatures(2, 640, encoder=encoder)
    codec = LLMCodec(debug_codec().config, features, torch.nn.Identity())
    assert codec.to("cpu") is codec
    assert moved == [torch.device("cpu")]
    lazy = WhisperFeatures(2, 640)  # not loaded yet: remembers the device for when it loads
    assert lazy.to("cpu")._device == torch.device("cpu") and lazy._encoder is None
