"""Generation against what copying gives: a rigged LLM that copies perfectly makes synthesis return exactly the
demonstrations' codes, and the copy-accuracy measure is right on hand-made codes."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from bench.generation import copy_columns
from model.audio import Audio
from model.codec.codes import Codes
from model.debug import debug_pipeline
from model.icl.pipeline import WORD_PAUSE_SECONDS, ICLPipeline
from model.icl.prompts import Prompt
from model.icl.results import AudioResult
from model.lm.frozen import FrozenLM
from tests.test_channel_copy import InductionLM, clip


@pytest.fixture(scope="module")
def copier():
    base = debug_pipeline()
    model = InductionLM(base.lm.model.config, base.lm.vocab_size, longest=True)
    return ICLPipeline(base.codec, FrozenLM(model, base.lm.tokenizer, "debug"), base.vocab, base.limits)


PAIRS = [("yes", clip("hum")), ("no", clip("whistle")), ("one", clip("hiss"))]  # words the debug tokenizer knows


@pytest.mark.parametrize("text", ["one yes", "no", "yes no one yes"])
def test_a_perfect_copier_synthesizes_exactly_the_demonstrations(copier, text):
    result = copier.synthesize(PAIRS, text)
    demos = {word: copier.tokenize(audio).codes for word, audio in PAIRS}
    words = text.split()
    for level, generated in enumerate(result.codes.levels):
        expected = torch.cat([demos[w].levels[level] for w in words])
        assert torch.equal(generated, expected), level
    assert result.copy_accuracy == [1.0] * copier.codec.config.num_levels
    assert all(torch.equal(a, b) for a, b in zip(result.copy_codes.levels, result.codes.levels, strict=True))


def test_synthesis_decodes_each_word_alone_and_joins_them_with_pauses(copier):
    result = copier.synthesize(PAIRS, "no one no")
    words = {w: copier.codec.decode(copier.tokenize(audio).codes).samples for w, audio in PAIRS}
    pause = np.zeros(round(WORD_PAUSE_SECONDS * result.audio.sample_rate), np.float32)
    expected = np.concatenate([words["no"], pause, words["one"], pause, words["no"]])
    np.testing.assert_allclose(result.audio.samples, expected, atol=1e-5)
    np.testing.assert_allclose(result.copy_audio.samples, expected, atol=1e-5)  # a perfect copy sounds the same
    assert not np.allclose(
        result.audio.samples[: len(words["no"])], copier.codec.decode(result.codes).samples[: len(words["no"])]
    )


def test_synthesis_of_fewer_levels_copies_those_levels(copier):
    result = copier.synthesize(PAIRS, "no one", levels=(0, 1))
    assert result.codes.num_levels == result.copy_codes.num_levels == 2
    assert result.copy_accuracy == [1.0, 1.0]


def test_enhancement_reports_the_noisy_query_as_its_copy(copier):
    query = clip("whistle")
    result = copier.enhance([(clip("hiss"), clip("hum"))], query)
    own = copier.tokenize(query).codes
    assert all(torch.equal(a, b) for a, b in zip(result.copy_codes.levels, own.levels, strict=True))
    np.testing.assert_allclose(result.copy_audio.samples, copier.codec.decode(own).samples)
    assert len(result.copy_accuracy) == own.num_levels and all(0 <= a <= 1 for a in result.copy_accuracy)


def test_enhancement_with_a_wide_tolerance_keeps_the_noisy_querys_codes(copier):
    query = clip("whistle")
    result = copier.enhance([(clip("hiss"), clip("hum"))], query, tolerance=1e9)
    assert result.copy_accuracy == [1.0] * copier.codec.config.num_levels
    greedy = copier.enhance([(clip("hiss"), clip("hum"))], query, tolerance=0.0, query_tokens_only=False)
    assert greedy.copy_accuracy != result.copy_accuracy


def test_enhancement_from_the_querys_own_tokens_writes_only_those(copier):
    query, pair = clip("hiss"), (clip("hum"), clip("whistle"))
    own = copier.tokenize(query).codes
    free = copier.enhance([pair], query, tolerance=0.0, query_tokens_only=False)  # copies the clean demo's tokens
    kept = copier.enhance([pair], query, tolerance=0.0)  # the default: the query's own tokens only
    assert any(not set(w.tolist()) <= set(q.tolist()) for w, q in zip(free.codes.levels, own.levels, strict=True))
    for written, noisy in zip(kept.codes.levels, own.levels, strict=True):
        assert set(written.tolist()) <= set(noisy.tolist()) and len(written) == len(noisy)


def test_agreement_on_hand_made_codes():
    generated = Codes((torch.tensor([0, 1, 2, 3]), torch.tensor([5, 5])))
    reference = Codes((torch.tensor([0, 1, 9, 3]), torch.tensor([5, 6, 7])))
    assert generated.agreement(reference) == [0.75, 0.5]  # over the shorter length
    assert Codes((torch.tensor([], dtype=torch.long),)).agreement(reference) == [0.0]


def test_joined_codes_follow_each_other_level_by_level():
    a = Codes((torch.tensor([0, 1]), torch.tensor([5, 6, 7])), num_samples=640)
    b = Codes((torch.tensor([2]), torch.tensor([8])))
    joined = Codes.joined([a, b, a])
    assert [level.tolist() for level in joined.levels] == [[0, 1, 2, 0, 1], [5, 6, 7, 8, 5, 6, 7]]
    assert joined.num_samples is None
    with pytest.raises(ValueError):
        Codes.joined([a, Codes((torch.tensor([1]),))])  # not the same levels


def test_the_benchmark_reports_copy_accuracy_per_level():
    generated = Codes((torch.tensor([0, 1, 2, 3]), torch.tensor([5, 5, 6, 6])))
    copy = Codes((torch.tensor([0, 1, 2, 2]), torch.tensor([5, 6, 6, 6])))
    result = AudioResult(None, generated, Prompt(), 0.0, copy)
    assert copy_columns(result) == {"copy_accuracy": {"level0": 0.75, "level1": 0.75}}


def test_reminding_puts_each_words_demonstration_right_before_it_is_written(copier):
    plain = copier.synthesize(PAIRS, "no yes", remind=False)
    reminded = copier.synthesize(PAIRS, "no yes")  # the default
    assert reminded.copy_accuracy == [1.0] * copier.codec.config.num_levels
    unspoken = copier.tokenize(PAIRS[2][1]).token_ids[0].tolist()  # "one": demonstrated, not spoken

    def count(ids: list[int], part: list[int]) -> int:
        return sum(ids[i : i + len(part)] == part for i in range(len(ids)))

    assert count(plain.prompt.ids, unspoken) == 1 and count(reminded.prompt.ids, unspoken) == 0
    no = copier.tokenize(PAIRS[1][1]).token_ids[0].tolist()
    assert count(reminded.prompt.ids, no) == 2  # "no": as the reminder, and as written


def test_reminded_synthesis_encodes_only_the_words_it_speaks_and_still_checks_every_clip(copier, monkeypatch):
    encoded = []
    encode = copier.codec.encode
    monkeypatch.setattr(copier.codec, "encode", lambda audio: encoded.append(audio.name) or encode(audio))
    quieter = [Audio(clip(kind).samples * 0.9) for kind in ("hum", "whistle", "hiss")]  # not memoised yet
    fresh = list(zip(("yes", "no", "one"), quieter, strict=True))
    copier.synthesize(fresh, "no")
    assert encoded == ["demonstration 2"]  # "yes" and "one" are not spoken: their clips are never encoded
    copier.synthesize(fresh, "no", remind=False)
    assert sorted(encoded[1:]) == ["demonstration 1", "demonstration 3"]  # all in the prompt ("no" was memoised)
    silent = [("yes", Audio(np.zeros(9600, dtype=np.float32))), *fresh[1:]]
    with pytest.raises(ValueError, match="demonstration 1"):
        copier.synthesize(silent, "no")  # an unused clip is still refused when it is bad
