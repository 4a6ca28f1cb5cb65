"""The light iSTFT vocoder and its distillation from HiFi-GAN: shapes, phase supervision, the loss falls, resume
is exact, export → load round trip, and load_codec's choice of vocoder."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from model.audio import Audio, save_audio
from model.codec.io import load_codec, save_codec
from model.codec.istft_vocoder import WEIGHTS_NAME, ISTFTVocoder, ISTFTVocoderConfig, load_istft_vocoder
from model.codec.vocoder import file_sha256, tuned_for
from model.codec.vocoder_distill import DistillConfig, complex_loss, distill, distill_loss, export, teacher_pairs
from model.codec.vocoder_tune import sample_batch
from model.debug import debug_codec, debug_semantic
from tests.conftest import sine

TINY = ISTFTVocoderConfig(channels=16, hidden=32, blocks=2, kernel=3)


def tiny_student(hop: int) -> ISTFTVocoderConfig:
    return replace(TINY, n_fft=4 * hop, hop=hop)


@pytest.fixture()
def config(tmp_path):
    clips = []
    for i, freq in enumerate((220, 330, 440)):
        save_audio(Audio(sine(1.0, 16_000, freq) * 0.3), tmp_path / f"clip{i}.wav")
        clips.append({"path": f"clip{i}.wav", "task": "speech"})
    (tmp_path / "manifest.json").write_text(json.dumps({"clips": clips}))
    hop = debug_codec(seed=0).config.mel_hop
    return DistillConfig(
        manifest=str(tmp_path / "manifest.json"),
        minutes=10.0,
        coarse_share=1.0,
        batch=2,
        segment_frames=8,
        lr=3e-3,
        warmup=2,
        schedule_steps=40,
        save_every=5,
        eval_every=1000,
        student=tiny_student(hop),
    )


@pytest.mark.parametrize("frames", [1, 2, 7, 64, 201])
def test_every_frame_gives_one_hop_of_samples(frames):
    vocoder = ISTFTVocoder(tiny_student(hop=64)).eval()
    with torch.inference_mode():
        assert vocoder(torch.randn(2, 80, frames)).shape == (2, 1, frames * 64)
        assert vocoder(torch.randn(1, 80, frames, dtype=torch.bfloat16).float()).dtype == torch.float32
        assert vocoder.bfloat16()(torch.randn(1, 80, frames).bfloat16()).dtype == torch.bfloat16


def test_the_complex_loss_sees_phase_that_magnitudes_miss():
    target = torch.randn(2, 4096)
    flipped = -target  # the same magnitudes everywhere, every phase turned by π
    assert complex_loss(target, target, 256, 64, 0.3) < 1e-6
    assert complex_loss(flipped, target, 256, 64, 0.3) > 0.5
    window = torch.hann_window(256)
    spectra = [torch.stft(x, 256, 64, 256, window, return_complex=True).abs() for x in (flipped, target)]
    assert torch.allclose(spectra[0], spectra[1], atol=1e-4)


def test_teacher_pairs_stop_at_the_minutes_asked_and_hold_the_teachers_waveform(config):
    codec = debug_codec(seed=0)
    pairs = teacher_pairs(codec, Path(config.manifest), replace(config, minutes=1.5 / 60))
    assert len(pairs) == 4  # two 1-s clips (1.5 s asked), each also decoded from levels 0–1 (coarse_share 1)
    for pair in pairs:
        assert pair["wav"].shape[-1] == pair["mel"].shape[-1] * codec.config.mel_hop
        expected = codec.vocode(pair["mel"].float()[None])
        assert np.allclose(pair["wav"].float().numpy(), expected, atol=2e-3)


def test_recording_pairs_hold_the_clip_itself_and_an_unknown_target_is_refused(config):
    from model.audio import resample

    codec = debug_codec(seed=0)
    pairs = teacher_pairs(codec, Path(config.manifest), replace(config, minutes=0.5 / 60, target="recording"))
    clip = sine(1.0, 16_000, 220) * 0.3
    expected = resample(clip, 16_000, codec.config.mel_rate)
    for pair in pairs:  # the clip at the vocoder's rate, padded or cut to the mel's frames
        length = min(len(expected), pair["wav"].shape[-1])
        assert pair["wav"].shape[-1] == pair["mel"].shape[-1] * codec.config.mel_hop
        assert np.allclose(pair["wav"].float().numpy()[:length], expected[:length], atol=2e-3)
    with pytest.raises(ValueError, match="Unknown distillation target"):
        teacher_pairs(codec, Path(config.manifest), replace(config, target="truth"))


def test_distillation_lowers_the_loss(config, tmp_path):
    codec = debug_codec(seed=0)
    pairs = teacher_pairs(codec, Path(config.manifest), config)
    mel, wav = sample_batch(pairs, replace(config, batch=6), __import__("random").Random(1), codec.config.mel_hop)
    torch.manual_seed(config.seed)
    before = distill_loss(ISTFTVocoder(config.student), codec.mel, mel, wav, config)["loss"].item()
    student = distill(tmp_path / "run", codec, config, steps=40, pairs=pairs)
    after = distill_loss(student, codec.mel, mel, wav, config)["loss"].item()
    assert after < 0.8 * before


@pytest.mark.parametrize("adversarial", [False, True])
def test_resume_follows_the_uninterrupted_run(config, tmp_path, adversarial):
    config = replace(config, adversarial=adversarial)
    codec = debug_codec(seed=0)
    pairs = teacher_pairs(codec, Path(config.manifest), config)
    whole = distill(tmp_path / "whole", codec, config, steps=10, pairs=pairs)
    distill(tmp_path / "halves", codec, config, steps=5, pairs=pairs)
    resumed = distill(tmp_path / "halves", codec, config, steps=10, pairs=pairs)
    for (name, a), (_, b) in zip(whole.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name


def test_a_run_can_start_from_another_runs_student_of_the_same_design_only(config, tmp_path):
    codec = debug_codec(seed=0)
    pairs = teacher_pairs(codec, Path(config.manifest), config)
    first = distill(tmp_path / "first", codec, config, steps=5, pairs=pairs)
    second = distill(tmp_path / "second", codec, config, steps=0, pairs=pairs, init_from=tmp_path / "first")
    for key, value in first.state_dict().items():
        assert torch.equal(second.state_dict()[key], value), key
    wider = replace(config, student=replace(config.student, channels=24))
    with pytest.raises(ValueError, match="another design"):
        distill(tmp_path / "third", codec, wider, steps=0, pairs=pairs, init_from=tmp_path / "first")


def test_an_export_loads_back_and_load_codec_decodes_with_it(config, tmp_path, caplog):
    codec = debug_codec(seed=0)
    folder = save_codec(codec, tmp_path / "codec")
    pairs = teacher_pairs(codec, Path(config.manifest), config)
    student = distill(tmp_path / "run", codec, config, steps=5, pairs=pairs)
    path = export(tmp_path / "run", folder)
    assert path == folder / WEIGHTS_NAME and tuned_for(path) == file_sha256(folder / "model.safetensors")
    loaded = load_istft_vocoder(path)
    assert loaded.config == config.student
    for key, value in student.state_dict().items():  # int8 rows: within half a step of each row's scale
        assert torch.allclose(loaded.state_dict()[key], value, atol=float(value.abs().max()) / 254 + 1e-3), key
    with caplog.at_level("WARNING", logger="model.codec.io"):
        light = load_codec(folder, semantic=debug_semantic, vocoder="istft", vocoder_dtype="float32")
    assert isinstance(light.vocoder, ISTFTVocoder) and "other codec weights" not in caplog.text
    audio = Audio(sine(0.5, 16_000, 200) * 0.3)
    out = light.decode(light.encode(audio))
    assert out.samples.dtype == np.float32 and len(out.samples) == len(audio.samples)


def test_export_refuses_a_run_without_state(tmp_path):
    with pytest.raises(ValueError, match="no training state"):
        export(tmp_path, tmp_path / "out")


def test_a_missing_or_foreign_vocoder_file_and_an_unknown_name_are_refused(tmp_path):
    from safetensors.torch import save_file

    folder = save_codec(debug_codec(seed=0), tmp_path / "codec")
    with pytest.raises(ValueError, match="vocoder_distill"):
        load_codec(folder, semantic=debug_semantic, vocoder="istft")
    save_file({"x": torch.zeros(2)}, folder / WEIGHTS_NAME)
    with pytest.raises(ValueError, match="not a light-vocoder file"):
        load_codec(folder, semantic=debug_semantic, vocoder="istft")
    with pytest.raises(ValueError, match="Unknown vocoder 'wavenet'"):
        load_codec(folder, semantic=debug_semantic, vocoder="wavenet")


@pytest.mark.integration
def test_the_shipped_codec_decodes_with_its_light_vocoder():
    folder = Path(__file__).resolve().parent.parent / "checkpoints" / "codec"
    assert (folder / WEIGHTS_NAME).is_file()
    assert tuned_for(folder / WEIGHTS_NAME) == file_sha256(folder / "model.safetensors")
    codec = load_codec(folder, vocoder="istft")
    audio = Audio(sine(0.5, 16_000, 200) * 0.3)
    out = codec.decode(codec.encode(audio))
    assert out.samples.dtype == np.float32 and len(out.samples) == len(audio.samples)
    assert np.isfinite(out.samples).all() and np.abs(out.samples).max() > 1e-3


def test_int8_rows_round_trip_within_half_a_step_and_keep_the_rest():
    from model.int8_rows import SCALE_SUFFIX, from_int8_rows, to_int8_rows

    torch.manual_seed(0)
    state = {
        "conv": torch.randn(6, 3, 5),
        "matrix": torch.randn(4, 9) * torch.arange(1, 5)[:, None],  # rows of very different scales
        "small": torch.randn(2, 2),
        "bias": torch.randn(6),
        "index": torch.arange(5),
    }
    stored = to_int8_rows(state, min_size=10)
    assert stored["conv"].dtype == stored["matrix"].dtype == torch.int8
    assert stored["small"].dtype == stored["bias"].dtype == torch.float16 and stored["index"].dtype == torch.long
    assert "conv" + SCALE_SUFFIX in stored and "small" + SCALE_SUFFIX not in stored
    assert to_int8_rows(state, 10, matrices_only=True)["conv"].dtype == torch.float16
    back = from_int8_rows(stored)
    assert back.keys() == state.keys() and torch.equal(back["index"], state["index"])
    for name in ("conv", "matrix"):
        step = state[name].reshape(state[name].shape[0], -1).abs().amax(dim=1) / 127
        error = (back[name] - state[name]).reshape(state[name].shape[0], -1).abs().amax(dim=1)
        assert (error <= step / 2 * 1.01 + 1e-4).all(), name
