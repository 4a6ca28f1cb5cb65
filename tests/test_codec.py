from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from model.audio import Audio
from model.codec.model import LLMCodec
from model.debug import DEBUG_TABLES, debug_codec, debug_lm, debug_semantic, debug_tokenizer
from model.icl.pipeline import ICLPipeline
from model.lm.frozen import FrozenLM
from model.vocab import VocabMap, VocabTables, check_codec_binding
from tests.conftest import sine


@pytest.fixture(scope="module")
def codec():
    return debug_codec(seed=0)


def clip(seconds: float, freq: float = 300.0) -> Audio:
    rng = np.random.default_rng(int(seconds * 1000))
    samples = sine(seconds, 16_000, freq) + 0.05 * rng.standard_normal(int(seconds * 16_000)).astype(np.float32)
    return Audio(samples.astype(np.float32))


@pytest.mark.parametrize("seconds", [0.06, 0.25, 0.5, 0.61, 1.0, 1.37, 2.0, 3.3])
def test_decoded_length_equals_input_length(codec, seconds):
    audio = clip(seconds)
    codes = codec.encode(audio)
    assert len(codec.decode(codes).samples) == len(audio.samples)
    for level in range(codes.num_levels):  # coarser decodes keep the length too
        assert len(codec.decode(codes.upto(level)).samples) == len(audio.samples)


@pytest.mark.parametrize("seconds", [0.3, 1.0, 2.5])
def test_code_lengths_follow_the_strides(codec, seconds):
    audio = clip(seconds)
    codes = codec.encode(audio)
    frames = codec.mel_frames(len(audio.samples))
    assert frames % codec.config.frame_multiple == 0
    assert codes.lengths() == [math.ceil(len(audio.samples) / 1280), frames // 4, frames // 2]
    assert codes.lengths()[0] < codes.lengths()[1] < codes.lengths()[2]


def test_every_code_is_a_row_the_level_uses(codec):
    codes = codec.encode(clip(2.0))
    for level, rows in enumerate(codec.config.level_rows):
        assert set(codes.levels[level].tolist()) <= set(rows)


def test_codes_token_ids_codes_round_trip(codec):
    lm = debug_lm(0)
    vocab = VocabMap.for_tokenizer(DEBUG_TABLES, lm.tokenizer)
    codes = codec.encode(clip(1.2))
    token_ids = vocab.to_token_ids(codes)
    for level, ids in enumerate(token_ids):
        assert set(ids.tolist()) <= set(codec.config.level_token_ids[level])
    back = vocab.codes_from_token_ids(token_ids)
    assert all(torch.equal(a, b) for a, b in zip(back.levels, codes.levels, strict=True))


def test_encoding_is_deterministic(codec):
    audio = clip(1.0)
    first, second = codec.encode(audio), codec.encode(audio)
    assert all(torch.equal(a, b) for a, b in zip(first.levels, second.levels, strict=True))


def test_save_then_load_gives_identical_output(codec, tmp_path):
    codec.save_pretrained(tmp_path / "ckpt")
    # No LLM is needed: the checkpoint carries every level's code vectors.
    loaded = LLMCodec.from_pretrained(tmp_path / "ckpt", semantic=debug_semantic, vocoder=codec.vocoder)
    assert not any(book.has_rows for book in loaded.codebooks())
    audio = clip(1.1)
    codes = codec.encode(audio)
    assert all(torch.equal(a, b) for a, b in zip(codes.levels, loaded.encode(audio).levels, strict=True))
    # fp16 weights on disk: the output matches to fp16 precision
    assert np.abs(loaded.decode(codes).samples - codec.decode(codes).samples).max() < 5e-2 * max(
        1e-3, np.abs(codec.decode(codes).samples).max()
    )


def test_a_different_vocabulary_is_refused_where_codec_and_llm_meet(codec):
    lm = debug_lm(0)
    other_tables = VocabTables(words=("ant", *DEBUG_TABLES.words[1:]), subwords=DEBUG_TABLES.subwords)
    with pytest.raises(ValueError, match="trained with vocabulary tables"):
        check_codec_binding(codec.config, VocabMap.for_tokenizer(other_tables, debug_tokenizer(other_tables)), "debug")
    # Same strings, other ids, for the LLM the codec was trained against: refused too.
    shuffled = debug_tokenizer(VocabTables(words=tuple(reversed(DEBUG_TABLES.words)), subwords=DEBUG_TABLES.subwords))
    with pytest.raises(ValueError, match="does not match the codec"):
        check_codec_binding(codec.config, VocabMap.for_tokenizer(DEBUG_TABLES, shuffled), "debug")
    # Another LLM holding the same strings as single tokens reads the codes by string: accepted.
    check_codec_binding(codec.config, VocabMap.for_tokenizer(DEBUG_TABLES, shuffled), "another-llm")
    # ... and the pipeline performs the check when it joins the two.
    with pytest.raises(ValueError, match="does not match the codec"):
        ICLPipeline(codec, FrozenLM(lm.model, shuffled, name="debug"), VocabMap.for_tokenizer(DEBUG_TABLES, shuffled))


def test_not_a_checkpoint(tmp_path):
    with pytest.raises(ValueError, match="not a codec checkpoint"):
        LLMCodec.from_pretrained(tmp_path)


def test_decode_refuses_rows_the_codec_does_not_use(codec):
    codes = codec.encode(clip(0.5))
    unused = next(r for r in range(len(DEBUG_TABLES.words)) if r not in codec.config.level_rows[0])
    bad = type(codes)((torch.full_like(codes.levels[0], unused), *codes.levels[1:]), codes.num_samples)
    with pytest.raises(ValueError, match="does not use"):
        codec.decode(bad)


def test_config_knows_its_arithmetic(codec):
    config = codec.config
    assert config.frame_rates == pytest.approx([12.5, 22_050 / 256 / 4, 22_050 / 256 / 2])
    assert config.tokens_per_second == pytest.approx(sum(config.frame_rates))
    assert config.bitrate == pytest.approx(12.5 * math.log2(5) + sum(config.frame_rates[1:]) * math.log2(6))


def test_a_short_training_loop_lowers_the_loss():
    codec = debug_codec(seed=1).train()
    audio = [clip(1.5, f) for f in (200, 450, 800, 1300)]
    mels = torch.cat([codec.log_mel(a.samples) for a in audio])[..., :128]  # (4, 80, 128)
    level0 = torch.stack(
        [codec.level0.encode(torch.from_numpy(debug_semantic(a.samples)))[codec.level0_index(128, 19)] for a in audio]
    )
    params = [p for n, p in codec.named_parameters() if not n.startswith(("vocoder.", "level0."))]
    optimizer = torch.optim.Adam(params, lr=3e-3)
    losses = []
    for _ in range(60):
        recon, vq = codec(mels, level0, keep=2)
        loss = (recon - mels).abs().mean() + vq
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
