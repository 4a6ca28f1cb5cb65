from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from model.audio import Audio
from model.debug import debug_pipeline
from model.icl.channel import channel_probabilities
from model.icl.pipeline import RECIPES, ClassifyOptions, ICLPipeline, normalise_text
from model.icl.prompts import PromptOptions
from model.icl.scorers import EvidenceKind, Scoring
from model.lm.frozen import FrozenLM
from tests.conftest import sine


class Rigged(torch.nn.Module):
    """Wraps a causal LM and adds a fixed bias to its logits: a 'model' with a known preference."""

    def __init__(self, inner: torch.nn.Module, bias: torch.Tensor):
        super().__init__()
        self.inner, self.bias = inner, bias

    @property
    def config(self):
        return self.inner.config

    def get_input_embeddings(self):
        return self.inner.get_input_embeddings()

    def set_attn_implementation(self, name):
        self.inner.set_attn_implementation(name)

    def forward(self, input_ids, **kwargs):
        out = self.inner(input_ids, **kwargs)
        out.logits = out.logits + self.bias
        return out


def rigged(pipeline: ICLPipeline, token: str, strength: float) -> ICLPipeline:
    lm = pipeline.lm
    bias = torch.zeros(lm.vocab_size)
    bias[lm.encode_text(token)[0]] = strength
    return ICLPipeline(
        pipeline.codec, FrozenLM(Rigged(lm.model, bias), lm.tokenizer, "rigged"), pipeline.vocab, pipeline.limits
    )


def tone(freq: float, seconds: float = 0.8) -> Audio:
    return Audio(sine(seconds, 16_000, freq))


WORDS = ClassifyOptions(PromptOptions(label_format="words"))  # the LLM writes the labels themselves
DEMOS = [(tone(300), "yes"), (tone(900), "no"), (tone(320), "yes"), (tone(950), "no")]


@pytest.fixture(scope="module")
def pipeline():
    return debug_pipeline()


def test_a_rigged_lm_makes_classify_pick_its_label(pipeline):
    for label in ("yes", "no"):
        options = ClassifyOptions(WORDS.prompt, calibration="none")
        result = rigged(pipeline, " " + label, 25.0).classify(tone(500), DEMOS, options)
        assert result.label == label and result.probs[label] > 0.99


def test_probabilities_sum_to_one_and_attention_covers_every_demo(pipeline):
    result = pipeline.classify(tone(310), DEMOS)
    assert set(result.probs) == {"yes", "no"}
    assert sum(result.probs.values()) == pytest.approx(1.0)
    assert len(result.evidence) == len(DEMOS) and sum(result.evidence) == pytest.approx(1.0)
    assert result.label == max(result.probs, key=result.probs.get)


def test_content_free_calibration_removes_a_constant_label_bias(pipeline):
    """A bias for one label's first token shifts its raw score by a constant; calibration cancels it."""
    plain = pipeline.classify(tone(700), DEMOS, WORDS)
    biased = rigged(pipeline, " yes", 6.0).classify(tone(700), DEMOS, WORDS)
    assert biased.scores["yes"] - biased.scores["no"] > plain.scores["yes"] - plain.scores["no"] + 3
    assert biased.probs["yes"] == pytest.approx(plain.probs["yes"], abs=2e-3)


def test_a_support_set_is_reused_with_the_same_answers(pipeline):
    support = pipeline.support_set(DEMOS)
    for freq in (300, 600, 900):
        again = pipeline.classify(tone(freq), DEMOS)
        cached = pipeline.classify(tone(freq), support)
        assert cached.probs == pytest.approx(again.probs, abs=1e-4)


@pytest.mark.parametrize(("token", "label"), [(" A", "yes"), (" B", "no")])
def test_the_paper_recipe_decodes_the_label_the_lm_prefers(pipeline, token, label):
    result = rigged(pipeline, token, 25.0).classify(tone(300), DEMOS, RECIPES["paper"])
    assert result.label == label and result.probs[label] == 1.0
    assert result.evidence_kind == EvidenceKind.ATTENTION


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"scoring": "chanel"}, "Unknown scoring 'chanel': use one of 'direct', 'channel', 'greedy'"),
        ({"calibration": "contentfree"}, "Unknown calibration 'contentfree'"),
        ({"scoring": "channel", "calibration": "content_free"}, "direct scoring only"),
        ({"scoring": "greedy", "calibration": "content_free"}, "direct scoring only"),
        ({"clip_seconds": 0}, "clip_seconds must be positive"),
    ],
)
def test_classify_options_are_checked_when_made(options, message):
    with pytest.raises(ValueError, match=message):
        ClassifyOptions(**options)


def test_classify_options_take_strings_as_their_types():
    options = ClassifyOptions(scoring="channel", calibration="none")
    assert options.scoring is Scoring.CHANNEL and not options.calibrated
    assert ClassifyOptions().calibrated and not ClassifyOptions(calibration="none").calibrated


def test_letters_stand_for_the_labels(pipeline):
    result = rigged(pipeline, " B", 25.0).classify(tone(300), DEMOS, ClassifyOptions(calibration="none"))
    assert result.label == "no"  # the second label, written "B"


def test_the_prompt_holds_every_demo_and_the_query(pipeline):
    result = pipeline.classify(tone(300), DEMOS)
    roles = [s.role for s in result.prompt.segments]
    assert roles.count("label") == len(DEMOS) and roles.count("query") == 1
    assert pipeline.lm.tokenizer.decode(result.prompt.ids).endswith(">\nOutput:")


@pytest.mark.parametrize(
    ("demos", "message"),
    [
        ([(tone(300), "yes"), (tone(400), "yes")], "at least two different labels"),
        ([(tone(300), "yes"), (tone(400), "  ")], "needs a label"),
        ([(tone(300), "yes"), (tone(400), "x" * 80)], "must be short"),
        ([(tone(300), "yes"), (tone(400), "no")] * 40, "at most 64 fit"),
        ([(tone(300), "yes"), (Audio(np.zeros(16_000, np.float32)), "no")], "silent"),
    ],
)
def test_bad_support_sets_are_refused(pipeline, demos, message):
    with pytest.raises(ValueError, match=message):
        pipeline.classify(tone(300), demos)


def limited(pipeline: ICLPipeline, tokens: int) -> ICLPipeline:
    return ICLPipeline(pipeline.codec, pipeline.lm, pipeline.vocab, pipeline.limits, max_prompt_tokens=tokens)


def test_a_prompt_longer_than_the_context_is_refused():
    small = debug_pipeline()
    small.lm.model.config.max_position_embeddings = 64
    with pytest.raises(ValueError, match=r"needs about .* but the context of debug is 64 tokens"):
        small.classify(tone(300, 3.0), DEMOS)


def test_the_context_guard_advice_is_right(pipeline):
    long_demos = [(tone(f + 10 * i, 3.0), label) for i in range(3) for f, label in ((300, "yes"), (900, "no"))]
    every = PromptOptions(levels=(0, 1, 2), collapse_repeats=False)  # tones collapse to almost nothing otherwise
    all_levels = ClassifyOptions(every)
    needed = len(pipeline.support_set(long_demos, all_levels).prompt)
    budget = limited(pipeline, needed * 4 // 5)
    with pytest.raises(ValueError, match="the prompt limit set by --max-prompt-tokens") as caught:
        budget.support_set(long_demos, all_levels)
    message = str(caught.value)
    assert "level 0 only" in message and "at most" in message
    seconds = float(re.search(r"cut every clip to at most ([\d.]+) s", message).group(1))
    assert 0.5 < seconds < 3.0
    # Each piece of advice, followed, fits.
    budget.support_set(long_demos, ClassifyOptions(PromptOptions(levels=(0,), collapse_repeats=False)))
    budget.support_set(long_demos, ClassifyOptions(every, clip_seconds=seconds))
    fewer = int(re.search(r"use at most (\d+) demonstrations", message).group(1))
    budget.support_set(long_demos[:fewer], all_levels)


def test_a_long_query_after_a_short_support_set_is_refused_by_the_guard(pipeline):
    short = [(tone(300, 0.5), "yes"), (tone(900, 0.5), "no")]
    plain = ClassifyOptions(PromptOptions(collapse_repeats=False))
    budget = limited(pipeline, len(pipeline.support_set(short, plain).prompt) + 30)
    support = budget.support_set(short, plain)
    budget.classify(tone(300, 0.5), support)
    with pytest.raises(ValueError, match="needs about"):
        budget.classify(tone(300, 9.0), support)


def test_unicode_labels_and_duplicates(pipeline):
    result = pipeline.classify(tone(300), [(tone(300), "héllo wörld"), (tone(900), "日本"), (tone(310), "héllo wörld")])
    assert set(result.probs) == {"héllo wörld", "日本"}


def test_enhance_generates_the_query_length_inside_the_allowed_codes(pipeline):
    pairs = [(tone(300, 1.0), tone(300, 1.0)), (tone(500, 0.7), tone(500, 0.7))]
    query = tone(400, 1.3)
    result = pipeline.enhance(pairs, query)
    assert len(result.audio.samples) == len(query.samples)
    expected = pipeline.codec.encode(query).lengths()
    assert result.codes.lengths() == expected
    for level, rows in enumerate(pipeline.codec.config.level_rows):
        assert set(result.codes.levels[level].tolist()) <= set(rows)
    assert sum(s.end - s.start for s in result.prompt.segments if s.role == "answer") == sum(expected)


def test_enhance_refuses_pairs_of_different_lengths(pipeline):
    with pytest.raises(ValueError, match="differ in length"):
        pipeline.enhance([(tone(300, 1.0), tone(300, 2.0))], tone(300))


def test_synthesize_copies_demonstrated_words(pipeline):
    pairs = [("three", tone(300, 0.5)), ("one", tone(600, 0.4)), ("2", tone(800, 0.6))]
    result = pipeline.synthesize(pairs, "3 1 two")
    lengths = [pipeline.codec.encode(tone(f, s)).lengths() for f, s in ((300, 0.5), (600, 0.4), (800, 0.6))]
    assert result.codes.lengths() == [sum(col) for col in zip(*lengths, strict=True)]
    assert len(result.audio.samples) > 0.9 * 16_000 * 1.5
    with pytest.raises(ValueError, match="No demonstration says 'four'"):
        pipeline.synthesize(pairs, "four one")


def test_each_word_is_written_with_its_demonstrations_tokens_only(pipeline):
    pairs = [("one", tone(600, 0.4)), ("two", tone(800, 0.4))]
    demos = {word: pipeline.tokenize(audio).codes for word, audio in pairs}
    for demonstrated_only in (True, False):
        result = pipeline.synthesize(pairs, "1 2", demonstrated_only=demonstrated_only, tolerance=0.0)
        inside = []
        for level, generated in enumerate(result.codes.levels):
            first = demos["one"].lengths()[level]
            inside.append(set(generated[:first].tolist()) <= set(demos["one"].levels[level].tolist()))
            inside.append(set(generated[first:].tolist()) <= set(demos["two"].levels[level].tolist()))
        assert all(inside) if demonstrated_only else not all(inside)  # a random tiny LLM strays when free


def test_a_repeated_word_is_written_once(pipeline, monkeypatch):
    pairs = [("one", tone(600, 0.4)), ("two", tone(800, 0.4))]
    once = pipeline.synthesize(pairs, "1 2")
    calls = []
    real = pipeline.lm.generate
    monkeypatch.setattr(pipeline.lm, "generate", lambda *a, **k: calls.append(1) or real(*a, **k))
    twice = pipeline.synthesize(pairs, "1 2 1 1")
    assert len(calls) == 2  # one call writes every level of a word, once for each distinct word
    for level, (short, long) in enumerate(zip(once.codes.levels, twice.codes.levels, strict=True)):
        one = pipeline.tokenize(pairs[0][1]).codes.lengths()[level]
        assert torch.equal(long, torch.cat([short, short[:one], short[:one]])), level


def test_generation_reports_progress_after_every_level(pipeline):
    seen = []
    pipeline.synthesize(
        [("one", tone(600, 0.4)), ("two", tone(800, 0.4))], "1 2 1", progress=lambda f, m: seen.append(f)
    )
    levels = pipeline.codec.config.num_levels
    assert len(seen) == 3 * levels and seen == sorted(seen) and seen[-1] == pytest.approx(1.0)
    seen.clear()
    pipeline.enhance([(tone(300, 0.5), tone(300, 0.5))], tone(400, 0.6), progress=lambda f, m: seen.append((f, m)))
    assert [f for f, _ in seen] == pytest.approx([(k + 1) / levels for k in range(levels)])
    assert seen[0][1] == f"the clean clip: level 1 of {levels} written"


def test_normalise_text():
    assert normalise_text("Call 3-12, now!") == ["call", "three", "one", "two", "now"]


def test_channel_scoring_gives_probabilities_and_evidence_per_demonstration(pipeline):
    result = pipeline.classify(tone(310), DEMOS, ClassifyOptions(scoring="channel"))
    assert result.evidence_kind == EvidenceKind.CHANNEL_GAIN
    assert result.label in ("yes", "no")
    assert sum(result.probs.values()) == pytest.approx(1.0)
    assert len(result.evidence) == len(DEMOS) and sum(result.evidence) == pytest.approx(1.0)
    assert any(s.role == "query" for s in result.prompt.segments)


def test_channel_scores_with_cached_prompts_equal_a_fresh_computation(pipeline):
    from model.icl.channel import _reverse_head

    support = pipeline.support_set(DEMOS, ClassifyOptions(scoring="channel"))
    query = pipeline._pieces(pipeline.tokenize(tone(310)), support.options.prompt)[0]
    result = pipeline.classify(tone(310), support)
    lm, close = pipeline.lm, pipeline.builder.text(" >")
    expected = []
    for c, prefix in enumerate(support.state.label_prefixes):
        forward = lm.score(prefix.ids.tolist(), [query + close])[0]  # a fresh run, no cache reused
        demos = list(support.state.demo_ids[c])
        after = lm.score(_reverse_head(pipeline.builder, query), demos)
        before = lm.score(_reverse_head(pipeline.builder), demos)
        expected.append(float(forward + (after - before).mean()) / len(query))  # per query token
    assert list(result.scores.values()) == pytest.approx(expected, abs=1e-4)
    assert list(result.probs.values()) == pytest.approx(channel_probabilities(torch.tensor(expected)).tolist())


def test_channel_temperature_changes_confidence_never_the_order():
    scores = torch.tensor([-2.0, -1.5, -3.0])
    sharp, soft = channel_probabilities(scores, 0.05), channel_probabilities(scores, 5.0)
    assert float(sharp.sum()) == pytest.approx(1.0) and float(soft.sum()) == pytest.approx(1.0)
    assert sharp.argsort().tolist() == soft.argsort().tolist() == scores.argsort().tolist()
    assert float(sharp.max()) > 0.99 and float(soft.max()) < 0.4
