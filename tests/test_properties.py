"""Property-based tests (hypothesis): the audio loader, the resampler, and codes ↔ token ids ↔ text."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from model.audio import SAMPLE_RATE, AudioLimits, load_audio, resample
from model.codec.codes import Codes
from model.vocab import VocabMap

RATES = st.sampled_from([8_000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 96_000])
DTYPES = st.sampled_from([np.int8, np.uint8, np.int16, np.int32, np.float32, np.float64])
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@st.composite
def audio_arrays(draw):
    """Any dtype, mono or multi-channel in either layout, any length (including too short/long), any content."""
    dtype = draw(DTYPES)
    rate = draw(RATES)
    frames = draw(st.integers(0, rate // 2))
    channels = draw(st.integers(1, 6))
    if np.issubdtype(dtype, np.integer):
        elements = st.integers(int(np.iinfo(dtype).min), int(np.iinfo(dtype).max))
    else:
        elements = st.floats(-4, 4, width=32) | st.sampled_from([np.nan, np.inf, -np.inf, 3e38, -3e38])
    shape = (frames,) if channels == 1 else (frames, channels)
    array = draw(arrays(dtype, shape, elements=elements))
    if channels > 1 and draw(st.booleans()):
        array = array.T
    return array, rate


@FAST
@given(audio_arrays())
def test_the_loader_gives_16k_mono_float32_or_a_value_error(case):
    array, rate = case
    limits = AudioLimits(min_seconds=0.01)
    try:
        audio = load_audio(array, sample_rate=rate, limits=limits)
    except ValueError as error:
        assert str(error)  # a message, never an empty error
        return
    frames = max(array.shape) if array.ndim == 2 else len(array)
    assert audio.sample_rate == SAMPLE_RATE
    assert audio.samples.dtype == np.float32 and audio.samples.ndim == 1
    assert abs(len(audio.samples) - frames * SAMPLE_RATE / rate) <= 2
    assert np.isfinite(audio.samples).all()
    assert audio.peak >= limits.silence_peak


@FAST
@given(data=st.binary(min_size=0, max_size=2048), suffix=st.sampled_from([".wav", ".flac", ".ogg", ".mp3"]))
def test_any_bytes_as_a_file_load_or_raise_a_value_error(tmp_path, data, suffix):
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(data)
    try:
        audio = load_audio(path)
    except ValueError as error:
        assert "fuzz" in str(error)  # the message names the file
        return
    assert audio.sample_rate == SAMPLE_RATE and np.isfinite(audio.samples).all()


@FAST
@given(
    signal=arrays(np.float32, st.integers(1, 4000), elements=st.floats(-1, 1, width=32)),
    rates=st.tuples(RATES, RATES),
)
def test_resampling_keeps_length_ratio_and_stays_finite(signal, rates):
    from_rate, to_rate = rates
    out = resample(signal, from_rate, to_rate)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    assert abs(len(out) - len(signal) * to_rate / from_rate) <= 1
    if from_rate == to_rate:
        np.testing.assert_array_equal(out, signal)


@FAST
@given(level=st.floats(-0.9, 0.9), rates=st.tuples(RATES, RATES))
def test_resampling_keeps_a_constant_level(level, rates):
    signal = np.full(rates[0], level, dtype=np.float32)  # one second
    out = resample(signal, *rates)
    middle = out[len(out) // 4 : 3 * len(out) // 4]  # away from the filter's edges
    assert np.allclose(middle, level, atol=1e-2)


@st.composite
def codes_for(draw, tables, levels: int = 3):
    sizes = [len(tables.table(level)) for level in range(levels)]
    return Codes(
        tuple(torch.tensor(draw(st.lists(st.integers(0, size - 1), max_size=40)), dtype=torch.long) for size in sizes)
    )


@pytest.fixture(scope="module")
def tiny_vocab(tiny_tables, tiny_tokenizer):
    return VocabMap.for_tokenizer(tiny_tables, tiny_tokenizer)


@FAST
@given(data=st.data())
def test_codes_token_ids_text_round_trip(tiny_vocab, tiny_tables, tiny_tokenizer, data):
    codes = data.draw(codes_for(tiny_tables))
    ids = tiny_vocab.to_token_ids(codes)
    back = tiny_vocab.codes_from_token_ids(ids)
    assert all(torch.equal(a, b) for a, b in zip(back.levels, codes.levels, strict=True))
    text = tiny_vocab.to_text(codes)
    for level, (level_ids, words) in enumerate(zip(ids, text, strict=True)):
        assert words == [tiny_tables.table(level)[i] for i in codes.levels[level].tolist()]
        # each id is one token that the tokenizer spells as its table string (with the leading space)
        assert [tiny_tokenizer.decode([i]).strip() for i in level_ids.tolist()] == words


@FAST
@given(
    level=st.integers(0, 2),
    ids=st.lists(st.integers(0, 10**6), min_size=1, max_size=10),
)
def test_ids_outside_a_level_are_refused(tiny_vocab, level, ids):
    allowed = set(tiny_vocab.token_ids(level).tolist())
    assume(any(i not in allowed for i in ids))
    with pytest.raises(ValueError):
        tiny_vocab.from_token_ids(level, torch.tensor(ids))


@pytest.mark.integration
@settings(max_examples=30, deadline=None)
@given(data=st.data())
def test_real_tables_round_trip_through_every_bundled_tokenizer(real_vocabs, data):
    tables, vocabs = real_vocabs
    codes = data.draw(codes_for(tables))
    text = vocabs[0][1].to_text(codes)
    for tokenizer, vocab in vocabs:
        ids = vocab.to_token_ids(codes)
        assert all(torch.equal(a, b) for a, b in zip(vocab.codes_from_token_ids(ids).levels, codes.levels, strict=True))
        assert [[tokenizer.decode([i]).strip() for i in level.tolist()] for level in ids] == text


@pytest.fixture(scope="module")
def real_vocabs():
    """The shipped tables bound to Qwen2.5 (default) and SmolLM2 (tiny) tokenizers: one code, two id spaces."""
    from model.lm import store as lm_store
    from model.vocab import VocabTables

    tables = VocabTables.load()
    vocabs = []
    for name in ("qwen2.5-coder-0.5b", "smollm2-135m"):
        tokenizer, _ = lm_store.tokenizer_and_embeddings(name)
        vocabs.append((tokenizer, VocabMap.for_tokenizer(tables, tokenizer)))
    return tables, vocabs
