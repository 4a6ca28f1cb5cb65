"""The codec's mel decoder trained through the frozen HiFi-GAN (``vocoder_distill --vocoder hifigan --joint``):
only the decoder copy learns, the export adds it to the tuned generator's file without disturbing the generator,
and ``load_codec(…, vocoder="hifigan")`` decodes through it while other vocoders keep the codec's decoder."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from model.audio import Audio
from model.codec.io import load_codec, save_codec
from model.codec.vocoder import TUNED_NAME, load_hifigan, load_tuned_decoder
from model.codec.vocoder_distill import JointStudent, distill, distill_loss, export, sample_windows, teacher_pairs
from model.debug import debug_semantic
from tests.conftest import sine
from tests.test_joint_light_decoder import codec, config  # noqa: F401  (the same tiny codec and run settings)


@pytest.fixture()
def hifigan_config(config):  # noqa: F811
    return replace(config, vocoder="hifigan", lr=1e-2)


def test_only_the_decoder_copy_learns_through_the_frozen_vocoder(codec, hifigan_config, tmp_path):  # noqa: F811
    pairs = teacher_pairs(codec, Path(hifigan_config.manifest), hifigan_config)
    vocoder_before = {k: v.clone() for k, v in codec.vocoder.state_dict().items()}
    own = {k: v.clone() for k, v in codec.state_dict().items()}
    batch, wav = sample_windows(pairs, replace(hifigan_config, batch=6), random.Random(1), codec.config.mel_hop)
    before = distill_loss(JointStudent(codec, codec.vocoder, 8), codec.mel, batch, wav, hifigan_config)["loss"]
    student = distill(tmp_path / "run", codec, hifigan_config, steps=40, pairs=pairs)
    after = distill_loss(student, codec.mel, batch, wav, hifigan_config)["loss"]
    assert after.item() < 0.9 * before.item()
    assert student.vocoder is codec.vocoder  # the codec's own vocoder, not a new one
    for key, value in codec.vocoder.state_dict().items():
        assert torch.equal(value, vocoder_before[key]), key
    assert any(not torch.equal(v, own[k]) for k, v in student.decoder_state().items())
    for key, value in codec.state_dict().items():  # the codec's own decoder is left as it was
        assert torch.equal(value, own[key]), key


def test_a_hifigan_run_must_be_joint(codec, hifigan_config, tmp_path):  # noqa: F811
    with pytest.raises(ValueError, match="--joint"):
        distill(tmp_path / "run", codec, replace(hifigan_config, joint=False), steps=1, pairs=[])
    with pytest.raises(ValueError, match="Unknown student vocoder"):
        distill(tmp_path / "other", codec, replace(hifigan_config, vocoder="wavenet"), steps=1, pairs=[])


def test_the_export_joins_the_tuned_file_and_the_default_path_decodes_through_it(codec, hifigan_config, tmp_path):  # noqa: F811
    folder = save_codec(codec, tmp_path / "codec")
    pairs = teacher_pairs(codec, Path(hifigan_config.manifest), hifigan_config)
    distill(tmp_path / "run", codec, hifigan_config, steps=5, pairs=pairs)
    with pytest.raises(ValueError, match="tune the vocoder first"):
        export(tmp_path / "run", folder)
    universal = load_hifigan().state_dict()
    tuned_bias = universal["conv_post.bias"] + 0.01  # a stand-in for vocoder_tune's export
    save_file({"conv_post.bias": tuned_bias.half()}, folder / TUNED_NAME, metadata={"rank": "full"})
    path = export(tmp_path / "run", folder)
    export(tmp_path / "run", folder)  # again: still one decoder in the file
    student = torch.load(tmp_path / "run" / "state.pt", weights_only=True)["student"]
    decoder = {k: v for k, v in student.items() if not k.startswith("vocoder.")}
    stored = load_tuned_decoder(path)
    assert stored.keys() == decoder.keys()

    generator = load_hifigan(tuned=path)  # the generator's own tensors load as before
    assert torch.allclose(generator.state_dict()["conv_post.bias"], tuned_bias.half().float())
    default = load_codec(folder, semantic=debug_semantic, vocoder_dtype="float32")
    injected = load_codec(folder, semantic=debug_semantic, vocoder=torch.nn.ConvTranspose1d(80, 1, 256, 256))
    for key, value in decoder.items():  # int8 rows: within half a step of each row's scale
        assert torch.allclose(default.state_dict()[key], value, atol=float(value.abs().max()) / 254 + 1e-3), key
        assert torch.allclose(injected.state_dict()[key], codec.state_dict()[key], atol=1e-2), key
    audio = Audio(sine(0.5, 16_000, 200) * 0.3)
    out = default.decode(default.encode(audio))
    assert len(out.samples) == len(audio.samples) and np.isfinite(out.samples).all()


def test_a_tuned_file_without_a_decoder_reads_as_none(tmp_path):
    save_file({"conv_post.bias": torch.zeros(1).half()}, tmp_path / TUNED_NAME)
    assert load_tuned_decoder(tmp_path / TUNED_NAME) == {}


def test_a_new_run_logs_its_starting_point_and_a_resumed_one_does_not(codec, hifigan_config, tmp_path):  # noqa: F811
    import json

    pairs = teacher_pairs(codec, Path(hifigan_config.manifest), hifigan_config)
    calls = []

    def evaluator(_codec) -> dict:
        calls.append(1)
        return {"pesq": float(len(calls))}

    every_two = replace(hifigan_config, eval_every=2)
    distill(tmp_path / "run", codec, every_two, steps=2, pairs=pairs, evaluator=evaluator)
    distill(tmp_path / "run", codec, every_two, steps=4, pairs=pairs, evaluator=evaluator)
    logged = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [(r["step"], r["pesq"]) for r in logged if "pesq" in r] == [(0, 1.0), (2, 2.0), (4, 3.0)]
