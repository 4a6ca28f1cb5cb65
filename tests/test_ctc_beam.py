"""CTC prefix beam search against exact sums over alignments, and the direct path's reading with it: the LLM's
share picks among the head's likeliest transcripts."""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import pytest
import torch

from model.speech.ask import GREEDY, Listening
from model.speech.ctc_beam import ctc_beam_search
from tests.test_speech import aligned_adapter, tiny_pipeline


def collapse(path: tuple[int, ...]) -> tuple[int, ...]:
    merged = [label for i, label in enumerate(path) if i == 0 or label != path[i - 1]]
    return tuple(label for label in merged if label != 0)


def exact(log_probs: torch.Tensor) -> dict[tuple[int, ...], float]:
    """Every label sequence's probability, summed over all of its alignments (brute force)."""
    frames, classes = log_probs.shape
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(classes), repeat=frames):
        p = math.exp(sum(float(log_probs[t, c]) for t, c in enumerate(path)))
        totals[collapse(path)] = totals.get(collapse(path), 0.0) + p
    return totals


def test_the_beam_hears_a_label_that_no_single_frame_prefers():
    log_probs = torch.tensor([[0.6, 0.4], [0.6, 0.4]]).log()  # greedy: blank, blank → nothing
    (best, score), (second, other) = ctc_beam_search(log_probs, beam=4)
    assert best == (1,) and math.isclose(math.exp(score), 0.16 + 0.24 + 0.24, rel_tol=1e-6)
    assert second == () and math.isclose(math.exp(other), 0.36, rel_tol=1e-6)


def test_a_label_said_twice_needs_a_blank_between():
    sure = torch.full((3, 3), 1e-6)
    sure[0, 2], sure[1, 0], sure[2, 2] = 1.0, 1.0, 1.0  # 2, blank, 2
    assert ctc_beam_search(sure.log(), beam=2)[0][0] == (2, 2)
    sure[1] = torch.tensor([1e-6, 1e-6, 1.0])  # 2, 2, 2 without a blank: said once
    assert ctc_beam_search(sure.log(), beam=2)[0][0] == (2,)


@pytest.mark.parametrize("seed", range(4))
def test_a_wide_beam_gives_each_sequences_exact_probability(seed):
    generator = torch.Generator().manual_seed(seed)
    log_probs = torch.randn(5, 3, generator=generator).mul(2.0).log_softmax(-1)
    truth = exact(log_probs)
    found = ctc_beam_search(log_probs, beam=len(truth), per_frame=3)
    assert len(found) == len(truth)
    for labels, score in found:
        assert math.isclose(math.exp(score), truth[labels], rel_tol=1e-5), labels
    assert [labels for labels, _ in found][:3] == sorted(truth, key=truth.get, reverse=True)[:3]


def test_bad_shapes_are_refused():
    with pytest.raises(ValueError, match="frames, classes"):
        ctc_beam_search(torch.zeros(3))


def heard_pipeline(listening: Listening):
    """The tiny pipeline with an aligned adapter over a few tokens that reads tokens."""
    pipeline = tiny_pipeline()
    table = pipeline.lm.model.get_input_embeddings().weight.detach()
    torch.manual_seed(0)
    adapter = aligned_adapter(table, [5, 9, 14, 20])
    adapter.config.reads = "tokens"
    adapter.config.encoder_dim, adapter.config.encoder_layers = 32, 2
    pipeline.adapter = type(adapter)(replace(adapter.config))
    pipeline.adapter.vocabulary.copy_(adapter.vocabulary)
    pipeline.listening = listening
    return pipeline


def test_the_beams_reading_is_what_the_llm_reads_and_greedy_reading_is_unchanged():
    from tests.test_speech import clip

    samples = clip().samples
    greedy = heard_pipeline(GREEDY)
    speech, heard = greedy.listen(samples)
    expected = greedy.adapter.read(greedy.speech_embeddings(samples), greedy.lm.model.get_input_embeddings().weight)
    assert torch.equal(speech, expected[0]) and heard == greedy.lm.tokenizer.decode(expected[1]).strip()

    beam = heard_pipeline(Listening(beam=6, per_frame=4, lm_weight=0.0))
    speech, heard = beam.listen(samples)
    table = beam.lm.model.get_input_embeddings().weight
    log_probs = beam.adapter.token_logits(beam.speech_embeddings(samples), table).log_softmax(-1)
    top = next(labels for labels, _ in ctc_beam_search(log_probs, 6, 4) if labels)
    ids = [int(beam.adapter.vocabulary[label - 1]) for label in top]
    assert torch.allclose(speech, table[ids].float()) and heard == beam.lm.tokenizer.decode(ids).strip()


def test_the_llms_share_picks_the_transcript_it_finds_likelier(monkeypatch):
    from tests.test_speech import clip

    pipeline = heard_pipeline(Listening(beam=6, per_frame=4, lm_weight=0.0))
    table = pipeline.lm.model.get_input_embeddings().weight
    samples = clip().samples
    log_probs = pipeline.adapter.token_logits(pipeline.speech_embeddings(samples), table).log_softmax(-1)
    beams = [labels for labels, _ in ctc_beam_search(log_probs, 6, 4) if labels]
    assert len(beams) >= 2
    favourite = [int(pipeline.adapter.vocabulary[label - 1]) for label in beams[1]]  # the head's second choice

    opening = len(pipeline.frame("<speech>").before)

    def rigged(prefix, candidates):  # an LLM that only believes the head's second choice
        shared = list(prefix)[opening:]  # the candidates' common start, read once as part of the prefix
        return torch.tensor([0.0 if shared + list(c) == favourite else -1e4 for c in candidates])

    monkeypatch.setattr(pipeline.lm, "score", rigged)
    pipeline.listening = Listening(beam=6, per_frame=4, lm_weight=1.0)
    speech, heard = pipeline.listen(samples)
    assert torch.allclose(speech, table[favourite].float())
    pipeline.listening = Listening(beam=6, per_frame=4, lm_weight=0.0)
    assert pipeline.listen(samples)[1] != heard  # without its share the head's first choice stands


def test_an_allowed_rule_keeps_the_beam_to_its_sequences_and_complete_filters_the_finished_ones():
    # frame by frame the head prefers 1 then 2; a lexicon that only knows "1 1" and "1 2 2" must find those
    log_probs = torch.tensor([[0.1, 0.8, 0.1], [0.1, 0.2, 0.7], [0.6, 0.2, 0.2], [0.1, 0.3, 0.6]]).log()
    known = {(1,), (1, 1), (1, 2), (1, 2, 2)}
    beams = ctc_beam_search(log_probs, beam=8, per_frame=2, allowed=lambda labels: labels in known)
    assert beams and all(labels in known | {()} for labels, _ in beams)
    whole = ctc_beam_search(
        log_probs, beam=8, per_frame=2, allowed=lambda labels: labels in known,
        complete=lambda labels: labels in {(1, 1), (1, 2, 2)},
    )  # fmt: skip
    assert {labels for labels, _ in whole} <= {(1, 1), (1, 2, 2)} and whole
    free = dict(ctc_beam_search(log_probs, beam=8, per_frame=2))
    assert dict(whole)[(1, 2, 2)] == pytest.approx(free[(1, 2, 2)])  # the rule prunes, it does not rescore
    nothing = ctc_beam_search(log_probs, beam=8, per_frame=2, complete=lambda labels: False)
    assert nothing == ctc_beam_search(log_probs, beam=8, per_frame=2)  # none whole: all are returned
