"""Fine-tuning the vocoder on the codec's decoded mels: the loss falls, resume is exact, export → load round trip."""

from __future__ import annotations

import json
import random
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from model.audio import Audio, save_audio
from model.codec.vocoder import FROZEN_IN_TUNING, TUNED_NAME, load_hifigan, tunable
from model.codec.vocoder_tune import (
    SpectrogramCritics,
    TuneConfig,
    critic_loss,
    decoded_pairs,
    export,
    low_rank_delta,
    sample_batch,
    stft_loss,
    tune,
    tune_loss,
)
from model.debug import debug_codec
from tests.conftest import sine


@pytest.fixture()
def config(tmp_path):
    clips = []
    for i, freq in enumerate((220, 330, 440)):
        save_audio(Audio(sine(1.0, 16_000, freq) * 0.3), tmp_path / f"clip{i}.wav")
        clips.append({"path": f"clip{i}.wav", "task": "speech"})
    (tmp_path / "manifest.json").write_text(json.dumps({"clips": clips}))
    return TuneConfig(
        manifest=str(tmp_path / "manifest.json"),
        batch=2,
        segment_frames=8,
        lr=1e-3,
        warmup=2,
        schedule_steps=40,
        coarse_share=1.0,
        save_every=5,
        eval_every=1000,
    )


def test_pairs_hold_the_decoded_mel_and_the_aligned_waveform(config):
    codec = debug_codec(seed=0)
    pairs = decoded_pairs(codec, Path(config.manifest), config)
    assert len(pairs) == 6  # coarse_share 1.0: every clip also paired with its levels-0–1 decode
    for pair in pairs:
        assert pair["mel"].shape[0] == 80
        assert pair["wav"].shape[-1] == pair["mel"].shape[-1] * codec.config.mel_hop
    assert not torch.equal(pairs[0]["mel"], pairs[1]["mel"])  # all levels vs levels 0–1


def test_short_clips_are_padded_with_silence():
    pairs = [{"mel": torch.zeros(80, 3).half(), "wav": torch.ones(3 * 4).half()}]
    mel, wav = sample_batch(pairs, TuneConfig(batch=2, segment_frames=5), random.Random(0), hop=4)
    assert mel.shape == (2, 80, 5) and wav.shape == (2, 20)
    assert torch.allclose(mel[0, :, 3:], torch.full((80, 2), float(torch.log(torch.tensor(1e-5)))))
    assert wav[0, 12:].abs().sum() == 0


def test_stft_loss_is_zero_for_a_perfect_output_and_grows_with_the_error():
    target = torch.randn(2, 4096)
    resolutions = TuneConfig().stft_resolutions
    assert stft_loss(target, target, resolutions) < 1e-6
    assert stft_loss(target + 0.1 * torch.randn_like(target), target, resolutions) < stft_loss(
        target + 0.5 * torch.randn_like(target), target, resolutions
    )


def test_tuning_lowers_the_loss(config, tmp_path):
    codec = debug_codec(seed=0)
    pairs = decoded_pairs(codec, Path(config.manifest), config)
    mel, wav = sample_batch(pairs, replace(config, batch=6), random.Random(1), codec.config.mel_hop)
    before = tune_loss(codec.vocoder, codec.mel, mel, wav, config)[0]["loss"].item()
    tune(tmp_path / "run", codec, config, steps=40, pairs=pairs)
    after = tune_loss(codec.vocoder, codec.mel, mel, wav, config)[0]["loss"].item()
    assert after < 0.9 * before


@pytest.mark.parametrize("adversarial", [False, True])
def test_resume_follows_the_uninterrupted_run(config, tmp_path, adversarial):
    config = replace(config, adversarial=adversarial)
    whole, halves = debug_codec(seed=0), debug_codec(seed=0)
    pairs = decoded_pairs(whole, Path(config.manifest), config)
    tune(tmp_path / "whole", whole, config, steps=10, pairs=pairs)
    tune(tmp_path / "halves", halves, config, steps=5, pairs=pairs)
    resumed = debug_codec(seed=0)
    assert tune(tmp_path / "halves", resumed, config, steps=10, pairs=pairs) == 10
    for (name, a), (_, b) in zip(whole.vocoder.state_dict().items(), resumed.vocoder.state_dict().items(), strict=True):
        assert torch.allclose(a, b, atol=1e-6), name


def test_export_refuses_a_run_without_state(tmp_path):
    with pytest.raises(ValueError, match="no training state"):
        export(tmp_path, tmp_path / "out")


@pytest.mark.integration
def test_exported_tensors_load_over_the_universal_generator(tmp_path):
    universal = load_hifigan()
    assert any(not tunable(k) for k in universal.state_dict())
    tuned = {k: v + 0.01 if tunable(k) else v for k, v in universal.state_dict().items()}
    torch.save({"vocoder": tuned, "step": 7}, tmp_path / "state.pt")
    path = export(tmp_path, tmp_path / "codec")
    assert path.name == TUNED_NAME and path.stat().st_size < 25 * 2**20  # one committable file
    loaded = load_hifigan(tuned=path).state_dict()
    for key, value in universal.state_dict().items():
        expected = tuned[key] if tunable(key) else value
        assert torch.allclose(loaded[key], expected, atol=2e-3), key
    assert all(key.startswith(FROZEN_IN_TUNING) for key in universal.state_dict() if not tunable(key))


@pytest.mark.integration
def test_a_file_of_other_tensors_is_refused(tmp_path):
    from safetensors.torch import save_file

    save_file({"not.a.layer": torch.zeros(3)}, tmp_path / TUNED_NAME)
    with pytest.raises(ValueError, match="not a tuned HiFi-GAN"):
        load_hifigan(tuned=tmp_path / TUNED_NAME)


def test_the_critics_learn_to_tell_the_clip_from_a_blurred_copy():
    torch.manual_seed(0)
    critics = SpectrogramCritics(TuneConfig().stft_resolutions)
    optimizer = torch.optim.AdamW(critics.parameters(), lr=2e-4, betas=(0.8, 0.99))
    clip = torch.randn(4, 4096)
    blurred = torch.nn.functional.avg_pool1d(clip[:, None], 9, stride=1, padding=4)[:, 0]
    first = critic_loss(critics, blurred, clip).item()
    for _ in range(30):
        optimizer.zero_grad()
        critic_loss(critics, blurred, clip).backward()
        optimizer.step()
    assert critic_loss(critics, blurred, clip).item() < 0.5 * first


def test_a_low_rank_change_is_recovered_exactly_and_vectors_stay_whole():
    universal = torch.randn(8, 6, 3)
    change = torch.randn(8, 2) @ torch.randn(2, 18)
    parts = low_rank_delta(universal + change.reshape(8, 6, 3), universal, rank=2)
    assert torch.allclose(parts["delta_up"] @ parts["delta_down"], change, atol=1e-5)
    assert low_rank_delta(torch.randn(8), torch.randn(8), rank=2) is None  # a bias is stored whole
    assert low_rank_delta(torch.randn(4, 4), torch.randn(4, 4), rank=2) is None  # not smaller in low rank


@pytest.mark.integration
def test_a_low_rank_export_loads_back_to_the_tuned_generator(tmp_path):
    universal = load_hifigan()
    generator = torch.Generator().manual_seed(0)
    tuned = {}
    for key, value in universal.state_dict().items():
        if tunable(key) and value.dim() > 1:  # a rank-1 change of every weight
            rows, cols = value.shape[0], value[0].numel()
            change = torch.randn(rows, 1, generator=generator) @ torch.randn(1, cols, generator=generator)
            value = value + 0.01 * change.reshape(value.shape)
        tuned[key] = value
    torch.save({"vocoder": tuned, "step": 3}, tmp_path / "state.pt")
    full = export(tmp_path, tmp_path / "full").stat().st_size
    path = export(tmp_path, tmp_path / "low", rank=2)
    assert path.stat().st_size < full / 10
    loaded = load_hifigan(tuned=path).state_dict()
    for key, value in tuned.items():
        assert torch.allclose(loaded[key], value, atol=2e-3), key


@pytest.mark.integration
def test_the_shipped_codec_decodes_with_its_tuned_vocoder():
    from model.codec.io import load_codec

    folder = Path(__file__).resolve().parent.parent / "checkpoints" / "codec"
    assert (folder / TUNED_NAME).is_file()
    codec = load_codec(folder, vocoder_dtype="float32")
    universal = load_hifigan().state_dict()
    shipped = codec.vocoder.state_dict()
    changed = [k for k in universal if not torch.equal(universal[k], shipped[k])]
    assert changed and all(tunable(k) for k in changed)
    audio = Audio(sine(0.5, 16_000, 200) * 0.3)
    for dtype in ("float32", "bfloat16"):
        out = load_codec(folder, vocoder_dtype=dtype).decode(codec.encode(audio))
        assert out.samples.dtype == np.float32 and len(out.samples) == len(audio.samples)


@pytest.mark.integration
def test_an_export_remembers_its_codec_and_a_changed_codec_is_warned_about(tmp_path, caplog):
    import shutil

    from safetensors.torch import load_file, save_file

    from model.codec.io import load_codec
    from model.codec.vocoder import file_sha256, tuned_for

    shipped = Path(__file__).resolve().parent.parent / "checkpoints" / "codec"
    folder = tmp_path / "codec"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        shutil.copy(shipped / name, folder / name)
    torch.save({"vocoder": load_hifigan().state_dict(), "step": 1}, tmp_path / "state.pt")
    path = export(tmp_path, folder, rank=4)
    assert tuned_for(path) == file_sha256(folder / "model.safetensors")
    with caplog.at_level("WARNING", logger="model.codec.io"):
        load_codec(folder)
    assert "for other codec weights" not in caplog.text
    save_file(load_file(path), path, metadata={"codec_sha256": "0" * 64})  # as if the codec were re-exported
    with caplog.at_level("WARNING", logger="model.codec.io"):
        load_codec(folder)
    assert "trained for other codec weights" in caplog.text and "vocoder_tune" in caplog.text
