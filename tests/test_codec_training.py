"""Codec training: the schedule, exact resume (from state.pt and from a packed state), pack round trip."""

from __future__ import annotations

import json

import pytest
import torch

from model.audio import Audio, save_audio
from model.codec import resume
from model.codec.train import Run, TrainConfig, learning_rate, train
from model.debug import debug_codec
from tests.conftest import sine


def tiny_codec(config, codec_config):
    return debug_codec(seed=0).train()


@pytest.fixture()
def config(tmp_path):
    clips = []
    for i, freq in enumerate((220, 330, 440)):
        save_audio(Audio(sine(2.0, 16_000, freq) * 0.3), tmp_path / f"clip{i}.wav")
        clips.append({"path": f"clip{i}.wav", "task": "speech" if i else "sounds"})
    (tmp_path / "manifest.json").write_text(json.dumps({"clips": clips}))
    return TrainConfig(
        manifest=str(tmp_path / "manifest.json"),
        level0_words=5,
        keep_weights=[0.2, 0.2, 0.6],
        batch=2,
        crop=64,
        warmup=3,
        schedule_steps=10,
        adversarial_from=4,
        log_every=1,
        save_every=100,
        noisy_fraction=1.0,
    )


def lrs(run: Run) -> dict[int, float]:
    records = [json.loads(line) for line in (run.folder / "log.jsonl").read_text().splitlines()]
    return {r["step"]: r["lr"] for r in records if "lr" in r}


def test_schedule_warms_up_then_decays_to_a_tenth():
    config = TrainConfig(lr=1.0, warmup=10, schedule_steps=100)
    assert learning_rate(config, 0) == pytest.approx(0.1)
    assert 0.95 < learning_rate(config, 9) <= 1.0  # warm-up done, cosine just begun
    assert learning_rate(config, 50) == pytest.approx(0.55)
    assert learning_rate(config, 100) == pytest.approx(0.1) == learning_rate(config, 500)


def test_resume_follows_the_uninterrupted_run(config, tmp_path):
    straight, stopped = Run(tmp_path / "straight"), Run(tmp_path / "stopped")
    assert train(straight, config, 8, make_codec=tiny_codec) == 8
    assert train(stopped, config, 4, make_codec=tiny_codec) == 4
    assert train(stopped, config, 8, make_codec=tiny_codec) == 8
    assert lrs(stopped) == lrs(straight)  # the schedule did not restart
    a, b = straight.load_state(), stopped.load_state()
    for key, value in a["model"].items():
        assert torch.allclose(value, b["model"][key], atol=1e-6), key


def test_packed_state_round_trips_and_resumes(config, tmp_path):
    first = Run(tmp_path / "first")
    train(first, config, 5, make_codec=tiny_codec)
    state = first.load_state()
    packed = resume.unpack(resume.pack(state, tmp_path / "pack", max_bytes=20_000))
    assert len(list((tmp_path / "pack").glob("*.safetensors"))) > 1  # sharded under the size limit
    assert packed["step"] == 5 and packed["train_config"] == state["train_config"]
    for key, value in state["model"].items():
        assert torch.equal(value.float(), packed["model"][key]), key  # weights exact
    for index, slots in state["optimizer"]["state"].items():
        for name, value in slots.items():  # moments to bfloat16 precision
            assert torch.allclose(value.float(), packed["optimizer"]["state"][index][name], rtol=1e-2, atol=1e-9)
    elsewhere = Run(tmp_path / "elsewhere")
    train(elsewhere, config, 8, resume_from=tmp_path / "pack", make_codec=tiny_codec)
    straight = Run(tmp_path / "straight")
    train(straight, config, 8, make_codec=tiny_codec)
    assert lrs(elsewhere) == {s: lr for s, lr in lrs(straight).items() if s > 5}


def test_unpack_refuses_a_folder_without_a_state(tmp_path):
    with pytest.raises(ValueError, match="not a packed training state"):
        resume.unpack(tmp_path)


def test_a_resumed_run_grows_a_pitch_level_and_trains_it(config, tmp_path):
    def codec_for(train_config, _codec_config):
        return debug_codec(seed=0, pitch_stride=train_config.pitch_stride).train()

    run = Run(tmp_path / "run")
    train(run, config, 4, make_codec=codec_for)
    grown = {"pitch_stride": 5, "crop": 60, "pitch_keep": 1.0, "keep_weights": [0.0, 0.0, 1.0]}
    assert train(run, config, 10, make_codec=codec_for, overrides=grown) == 10
    state = run.load_state()
    assert state["train_config"]["pitch_stride"] == 5 and state["step"] == 10
    depth = state["model"]["harmonic_depth.weight"]
    assert depth.abs().sum() > 0  # started at zero: the pitch path was trained
    assert len(state["optimizer"]["state"]) == len(state["optimizer"]["param_groups"][0]["params"])
    with pytest.raises(ValueError, match="multiple of 20"):
        train(Run(tmp_path / "odd"), config, 2, make_codec=codec_for, overrides={"pitch_stride": 5})
