"""The codec's mel decoder trained end to end with the light vocoder (``vocoder_distill --joint``): its pairs hold
what the decoder reads, its windows decode as the whole clip does, it learns, resumes exactly, and its export
makes ``load_codec(…, vocoder="istft")`` decode through it while the HiFi-GAN path keeps the codec's decoder."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from model.audio import Audio, load_audio, save_audio
from model.codec.io import load_codec, save_codec
from model.codec.istft_vocoder import WEIGHTS_NAME, ISTFTVocoderConfig, load_istft_decoder, save_istft_vocoder
from model.codec.model import decode_latent
from model.codec.vocoder_distill import (
    DistillConfig,
    JointStudent,
    distill,
    distill_loss,
    export,
    installed,
    sample_windows,
    teacher_pairs,
)
from model.debug import debug_codec, debug_semantic
from tests.conftest import sine

PITCH_STRIDE = 2


@pytest.fixture()
def codec():
    return debug_codec(seed=0, pitch_stride=PITCH_STRIDE)


@pytest.fixture()
def config(tmp_path, codec):
    clips = []
    for i, freq in enumerate((180, 240, 300)):
        save_audio(Audio(sine(0.6 + 0.2 * i, 16_000, freq) * 0.3), tmp_path / f"clip{i}.wav")
        clips.append({"path": f"clip{i}.wav", "task": "speech"})
    (tmp_path / "manifest.json").write_text(json.dumps({"clips": clips}))
    hop = codec.config.mel_hop
    return DistillConfig(
        manifest=str(tmp_path / "manifest.json"),
        minutes=10.0,
        coarse_share=1.0,
        batch=3,
        segment_frames=8,
        context_frames=12,
        lr=3e-3,
        warmup=2,
        schedule_steps=40,
        save_every=5,
        eval_every=1000,
        target="recording",
        complex_weight=0.0,
        joint=True,
        student=ISTFTVocoderConfig(channels=16, hidden=32, blocks=2, kernel=3, n_fft=4 * hop, hop=hop),
    )


def test_joint_pairs_hold_what_the_decoder_reads_and_a_teacher_target_is_refused(codec, config):
    pairs = teacher_pairs(codec, Path(config.manifest), config)
    assert len(pairs) == 6  # every clip, each also from levels 0–1 (coarse_share 1)
    full, coarse = pairs[0], pairs[1]
    assert "pitch" in full and "pitch" not in coarse  # levels 0–1 decode without the pitch level
    frames = full["latent"].shape[-1]
    assert full["wav"].shape[-1] == frames * codec.config.mel_hop
    audio = load_audio(Path(config.manifest).parent / "clip0.wav")  # the only clip of its length
    frames = codec.mel_frames(len(audio.samples))
    levels = [torch.as_tensor(c, dtype=torch.long) for c in codec._from_codes(codec.encode(audio))]
    full, coarse = [p for p in pairs if p["latent"].shape[-1] == frames]
    with torch.inference_mode():
        for pair, kept in ((full, levels), (coarse, levels[:2])):
            expected = codec.decoder_mel(kept, frames)
            decoded = decode_latent(codec, pair["latent"].float()[None], _pitch(pair))
            assert torch.allclose(decoded, expected, atol=1e-2 * float(expected.abs().max()))
    with pytest.raises(ValueError, match="--target recording"):
        teacher_pairs(codec, Path(config.manifest), replace(config, target="teacher"))


def _pitch(pair):
    return pair["pitch"].float()[None] if "pitch" in pair else None


@pytest.mark.parametrize("context", [0, 3, 12])
def test_a_window_decodes_as_the_whole_clip_does_where_its_context_covers_the_decoder(codec, config, context):
    generator = torch.Generator().manual_seed(0)
    hop, dim = codec.config.mel_hop, codec.config.latent_dim
    pairs = []
    for frames in (5, 30, 50):  # random inputs: every window is found in exactly one place
        pair = {"latent": torch.randn(dim, frames, generator=generator).half(), "wav": torch.randn(frames * hop).half()}
        pairs.append(pair | ({"pitch": torch.randn(82, frames, generator=generator).half()} if frames > 5 else {}))
    config = replace(config, context_frames=context, batch=12)
    windows, wavs = sample_windows(pairs, config, random.Random(3), hop)
    assert wavs.shape == (12, config.segment_frames * hop)
    student = JointStudent(codec, torch.nn.Identity(), config.segment_frames).eval()
    with torch.inference_mode():
        mels = student(windows)
    assert mels.shape == (12, 80, config.segment_frames)
    reach = 6  # the debug decoder: in_proj ±3, one block (kernel 5) ±2, out_proj ±1
    for (latent, pitch, offset), mel, wav in zip(windows, mels, wavs, strict=True):
        pair = next(p for p in pairs if _find(p["latent"].float(), latent[0]) >= 0)
        start = _find(pair["latent"].float(), latent[0]) + offset
        assert (pitch is None) == ("pitch" not in pair)
        with torch.inference_mode():
            whole = decode_latent(codec, pair["latent"].float()[None], _pitch(pair))[0]
        segment = whole[:, start : start + config.segment_frames]
        length = segment.shape[-1]
        assert torch.equal(wav[: length * hop], pair["wav"][start * hop : (start + length) * hop].float())
        assert not wav[length * hop :].any() and (mel[:, length:] == float(np.log(1e-5))).all()  # padded
        inner = slice(0, length) if context >= reach else slice(reach, length - reach)
        assert torch.allclose(mel[:, :length][:, inner], segment[:, inner], atol=1e-4)


def _find(whole: torch.Tensor, part: torch.Tensor) -> int:
    for first in range(whole.shape[-1] - part.shape[-1] + 1):
        if torch.equal(whole[:, first : first + part.shape[-1]], part):
            return first
    return -1


def test_joint_training_lowers_the_loss_and_leaves_the_codecs_decoder_alone(codec, config, tmp_path):
    pairs = teacher_pairs(codec, Path(config.manifest), config)
    own = {k: v.clone() for k, v in codec.state_dict().items()}
    batch, wav = sample_windows(pairs, replace(config, batch=6), random.Random(1), codec.config.mel_hop)
    torch.manual_seed(config.seed)
    from model.codec.istft_vocoder import ISTFTVocoder

    untrained = JointStudent(codec, ISTFTVocoder(config.student), config.segment_frames)
    before = distill_loss(untrained, codec.mel, batch, wav, config)["loss"].item()
    student = distill(tmp_path / "run", codec, config, steps=40, pairs=pairs)
    after = distill_loss(student, codec.mel, batch, wav, config)["loss"].item()
    assert after < 0.8 * before
    assert any(not torch.equal(v, own[k]) for k, v in student.decoder_state().items())  # the copy learned
    for key, value in codec.state_dict().items():
        assert torch.equal(value, own[key]), key


def test_a_joint_run_resumes_as_if_uninterrupted(codec, config, tmp_path):
    pairs = teacher_pairs(codec, Path(config.manifest), config)
    whole = distill(tmp_path / "whole", codec, config, steps=10, pairs=pairs)
    distill(tmp_path / "halves", codec, config, steps=5, pairs=pairs)
    resumed = distill(tmp_path / "halves", codec, config, steps=10, pairs=pairs)
    for (name, a), (_, b) in zip(whole.state_dict().items(), resumed.state_dict().items(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name


def test_a_joint_run_starts_from_a_plain_runs_vocoder_and_not_the_other_way(codec, config, tmp_path):
    plain_config = replace(config, joint=False)
    plain_pairs = teacher_pairs(codec, Path(config.manifest), plain_config)
    plain = distill(tmp_path / "plain", codec, plain_config, steps=3, pairs=plain_pairs)
    pairs = teacher_pairs(codec, Path(config.manifest), config)
    joint = distill(tmp_path / "joint", codec, config, steps=0, pairs=pairs, init_from=tmp_path / "plain")
    for key, value in plain.state_dict().items():
        assert torch.equal(joint.vocoder.state_dict()[key], value), key
    for key, value in joint.decoder_state().items():  # the decoder starts as the codec's
        assert torch.equal(codec.state_dict()[key], value), key
    with pytest.raises(ValueError, match="another design"):
        distill(tmp_path / "back", codec, plain_config, steps=0, pairs=plain_pairs, init_from=tmp_path / "joint")


def test_evaluation_decodes_through_the_student_and_puts_the_codecs_parts_back(codec, config, tmp_path):
    pairs = teacher_pairs(codec, Path(config.manifest), config)
    student = distill(tmp_path / "run", codec, config, steps=3, pairs=pairs)
    own_decoder, own_vocoder = codec.decoder, codec.vocoder
    with installed(codec, student) as inside:
        assert inside.decoder is student.decoder and inside.vocoder is student.vocoder
        assert inside.harmonic_depth is student.harmonic_depth
    assert codec.decoder is own_decoder and codec.vocoder is own_vocoder


def test_the_export_makes_the_light_path_decode_through_the_trained_decoder(codec, config, tmp_path, caplog):
    folder = save_codec(codec, tmp_path / "codec")
    pairs = teacher_pairs(codec, Path(config.manifest), config)
    student = distill(tmp_path / "run", codec, config, steps=5, pairs=pairs)
    path = export(tmp_path / "run", folder)
    stored = load_istft_decoder(path)
    assert stored.keys() == student.decoder_state().keys()
    light = load_codec(folder, semantic=debug_semantic, vocoder="istft", vocoder_dtype="float32")
    plain = load_codec(folder, semantic=debug_semantic, vocoder=torch.nn.ConvTranspose1d(80, 1, 256, 256))
    for key, value in student.decoder_state().items():  # int8 rows: within half a step of each row's scale
        assert torch.allclose(light.state_dict()[key], value, atol=float(value.abs().max()) / 254 + 1e-3), key
        assert torch.allclose(plain.state_dict()[key], codec.state_dict()[key], atol=1e-2), key
    audio = Audio(sine(0.5, 16_000, 200) * 0.3)
    out = light.decode(light.encode(audio))
    assert out.samples.dtype == np.float32 and len(out.samples) == len(audio.samples)
    assert np.isfinite(out.samples).all()


def test_a_light_file_with_a_decoder_of_another_design_is_refused(codec, config, tmp_path):
    from model.codec.istft_vocoder import ISTFTVocoder

    folder = save_codec(codec, tmp_path / "codec")
    wrong = {"decoder.in_proj.weight": torch.zeros(3, 3, 3)}
    save_istft_vocoder(ISTFTVocoder(config.student), folder / WEIGHTS_NAME, {}, wrong)
    with pytest.raises(ValueError, match="another design"):
        load_codec(folder, semantic=debug_semantic, vocoder="istft")
    save_istft_vocoder(ISTFTVocoder(config.student), folder / WEIGHTS_NAME, {}, {"nonsense.weight": torch.zeros(2)})
    with pytest.raises(ValueError, match="another design"):
        load_codec(folder, semantic=debug_semantic, vocoder="istft")
