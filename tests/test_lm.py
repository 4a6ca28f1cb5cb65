from __future__ import annotations

import pytest
import torch

from model.lm.frozen import DRAFT_BLOCK, MAX_DRAFT_BLOCK, FrozenLM
from tests.reference import full_forward_greedy, full_forward_score

PREFIX = [5, 9, 12, 3, 20, 7]
CANDIDATES = [[4], [30, 31, 32], [8, 8], [11, 25, 6, 19]]


def test_score_matches_uncached_forward(tiny_lm):
    scores = tiny_lm.score(PREFIX, CANDIDATES)
    expected = [full_forward_score(tiny_lm, PREFIX, c) for c in CANDIDATES]
    assert scores.shape == (len(CANDIDATES),)
    assert scores.tolist() == pytest.approx(expected, abs=1e-4)


def test_prefix_cache_is_reused_and_never_mutated(tiny_lm):
    prefix = tiny_lm.prefix(PREFIX[:3])
    before = tiny_lm.score(prefix, CANDIDATES)
    extended = tiny_lm.extend(prefix, PREFIX[3:])  # a "query" on top of a cached support set
    assert len(extended) == len(PREFIX) and len(prefix) == 3
    assert tiny_lm.score(extended, CANDIDATES).tolist() == pytest.approx(
        [full_forward_score(tiny_lm, PREFIX, c) for c in CANDIDATES], abs=1e-4
    )
    tiny_lm.score(extended, CANDIDATES)
    assert torch.allclose(tiny_lm.score(prefix, CANDIDATES), before, atol=1e-5)


def test_score_each_batches_prefixes_of_different_lengths(tiny_lm):
    """One candidate per prefix in one batch (channel scoring's forward reading) equals scoring them one by one."""
    prefixes = [PREFIX[:2], PREFIX, PREFIX[:4], [17]]
    scores = tiny_lm.score_each([tiny_lm.prefix(p) for p in prefixes], CANDIDATES)
    expected = [full_forward_score(tiny_lm, p, c) for p, c in zip(prefixes, CANDIDATES, strict=True)]
    assert scores.tolist() == pytest.approx(expected, abs=1e-4)
    with pytest.raises(ValueError, match="one candidate per prefix"):
        tiny_lm.score_each([tiny_lm.prefix(PREFIX)], CANDIDATES)


def test_scoring_in_small_batches_gives_the_same_scores(tiny_lm, monkeypatch):
    """Many long candidates are scored a few at a time (bounded memory); the totals must not change."""
    monkeypatch.setattr("model.lm.frozen.MAX_SCORED_TOKENS", 4)
    prefixes = [PREFIX[:2], PREFIX, PREFIX[:4], [17]]
    assert tiny_lm.score(PREFIX, CANDIDATES).tolist() == pytest.approx(
        [full_forward_score(tiny_lm, PREFIX, c) for c in CANDIDATES], abs=1e-4
    )
    assert tiny_lm.score_each([tiny_lm.prefix(p) for p in prefixes], CANDIDATES).tolist() == pytest.approx(
        [full_forward_score(tiny_lm, p, c) for p, c in zip(prefixes, CANDIDATES, strict=True)], abs=1e-4
    )


def test_scores_are_log_probabilities(tiny_lm):
    singles = tiny_lm.score(PREFIX, [[i] for i in range(tiny_lm.vocab_size)])
    assert torch.logsumexp(singles, 0).item() == pytest.approx(0.0, abs=1e-4)


def test_constrained_greedy_matches_reference_and_stays_inside(tiny_lm):
    allowed = [[3, 4, 5], [10, 11], [3, 4, 5], [10, 11], [20]]
    out = tiny_lm.generate(PREFIX, allowed, 5)
    assert out.tolist() == full_forward_greedy(tiny_lm, PREFIX, allowed, 5)
    assert all(int(t) in a for t, a in zip(out, allowed, strict=True))


def test_one_allowed_set_for_every_step_and_sampling_is_seeded(tiny_lm):
    allowed = [list(range(12, 20))]
    sampled = tiny_lm.generate(PREFIX, allowed, 30, temperature=1.5, seed=7)
    assert sampled.shape == (30,) and set(sampled.tolist()) <= set(allowed[0])
    assert torch.equal(sampled, tiny_lm.generate(PREFIX, allowed, 30, temperature=1.5, seed=7))
    assert len(set(sampled.tolist())) > 1  # high temperature explores
    assert torch.equal(tiny_lm.generate(PREFIX, allowed, 6), tiny_lm.generate(PREFIX, allowed, 6))  # greedy


def _counting_forwards(lm, monkeypatch) -> list[int]:
    """Patch ``lm.model`` to record how many tokens each forward pass runs."""
    calls, forward = [], lm.model.forward

    def counted(input_ids=None, **kwargs):
        calls.append(int(input_ids.shape[1]))
        return forward(input_ids=input_ids, **kwargs)

    monkeypatch.setattr(lm.model, "forward", counted)
    return calls


@pytest.mark.parametrize("allowed", [[list(range(12, 40))], [[3, 4, 5], [10, 11], [3, 4, 5], [10, 11], [20]] * 4])
def test_a_draft_changes_the_passes_not_the_tokens(tiny_lm, allowed, monkeypatch):
    n = 20
    greedy = tiny_lm.generate(PREFIX, allowed, n).tolist()
    wrong = [(t + 1) % tiny_lm.vocab_size for t in greedy]
    half = [g if i % 3 else w for i, (g, w) in enumerate(zip(greedy, wrong, strict=True))]
    prefix = tiny_lm.prefix(PREFIX)
    for draft in (greedy, wrong, half, greedy[:5], [*greedy, 1, 2, 3]):
        assert tiny_lm.generate(prefix, allowed, n, draft=draft).tolist() == greedy
    calls = _counting_forwards(tiny_lm, monkeypatch)
    tiny_lm.generate(prefix, allowed, n, draft=greedy)
    assert calls == [DRAFT_BLOCK + 1, n - 1 - (DRAFT_BLOCK + 1)]  # a right draft: the second pass checks the rest
    calls.clear()
    tiny_lm.generate(prefix, allowed, n, draft=half)
    assert max(calls) <= DRAFT_BLOCK + 1  # a draft kept in pieces is never checked in longer blocks


def test_a_draft_kept_whole_is_checked_in_growing_blocks(tiny_lm, monkeypatch):
    allowed, n = [list(range(12, 40))], 200
    prefix = tiny_lm.prefix(PREFIX)
    greedy = tiny_lm.generate(prefix, allowed, n).tolist()
    calls = _counting_forwards(tiny_lm, monkeypatch)
    assert tiny_lm.generate(prefix, allowed, n, draft=greedy).tolist() == greedy
    blocks = [DRAFT_BLOCK, 2 * DRAFT_BLOCK, 4 * DRAFT_BLOCK, MAX_DRAFT_BLOCK, MAX_DRAFT_BLOCK]
    assert calls == [b + 1 for b in blocks] + [n - 1 - sum(b + 1 for b in blocks)]
    assert sum(calls) == n - 1  # no token runs twice
    calls.clear()
    wrong_once = [*greedy[:30], (greedy[30] + 1) % tiny_lm.vocab_size, *greedy[31:]]
    assert tiny_lm.generate(prefix, allowed, n, draft=wrong_once).tolist() == greedy
    assert calls[:3] == [DRAFT_BLOCK + 1, 2 * DRAFT_BLOCK + 1, 4 * DRAFT_BLOCK + 1]  # rejected at 30 (of 9 + 17 + 33)
    assert calls[3] == DRAFT_BLOCK + 1  # after a rejection, short blocks again


def test_tolerance_keeps_the_draft_only_where_the_llm_rates_it_close(tiny_lm):
    allowed, n = [list(range(12, 40))], 12
    greedy = tiny_lm.generate(PREFIX, allowed, n).tolist()
    other = [12 if g != 12 else 13 for g in greedy]  # never the LLM's favourite
    assert tiny_lm.generate(PREFIX, allowed, n, draft=other, tolerance=1e9).tolist() == other
    assert tiny_lm.generate(PREFIX, allowed, n, draft=other, tolerance=0.0).tolist() == greedy
    outside = [50] * n  # a draft the steps may not take is never kept, however tolerant
    assert tiny_lm.generate(PREFIX, allowed, n, draft=outside, tolerance=1e9).tolist() == greedy
    logprobs = tiny_lm.prefix(PREFIX).next_logprobs
    gap = float(logprobs[greedy[0]] - logprobs[other[0]])
    assert tiny_lm.generate(PREFIX, allowed, 1, draft=other, tolerance=gap + 1e-4).tolist() == other[:1]
    assert tiny_lm.generate(PREFIX, allowed, 1, draft=other, tolerance=gap - 1e-4).tolist() == greedy[:1]


def test_generate_zero_tokens(tiny_lm):
    assert tiny_lm.generate(PREFIX, [[1]], 0).shape == (0,)
    assert tiny_lm.generate(PREFIX, [[1]], 0, draft=[1, 1]).shape == (0,)


def test_a_step_allowed_one_token_is_that_token_and_progress_is_told(tiny_lm):
    separator, n = [7, 8], 12
    steps = [list(range(12, 40))] * 5 + [[t] for t in separator] + [list(range(12, 40))] * 5
    prefix = tiny_lm.prefix(PREFIX)
    first = tiny_lm.generate(prefix, steps[:5], 5)
    # writing the separator as forced steps is writing the parts one after the other
    rest = tiny_lm.generate(tiny_lm.extend(prefix, [*first.tolist(), *separator]), steps[7:], 5)
    for draft in (None, [*first.tolist(), *separator, *rest.tolist()], [13] * n):
        told = []
        ids = tiny_lm.generate(prefix, steps, n, draft=draft, progress=told.append)
        assert ids.tolist() == [*first.tolist(), *separator, *rest.tolist()]
        assert told == sorted(told) and told[-1] == n and len(told) > 1  # told after each pass, not only at the end


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda lm: lm.generate(PREFIX, [[1], [2]], 5), "one per step"),
        (lambda lm: lm.generate(PREFIX, [[]], 2), "allows no token"),
        (lambda lm: lm.score(PREFIX, []), "at least one token"),
        (lambda lm: lm.score(PREFIX, [[1], []]), "at least one token"),
        (lambda lm: lm.prefix([]), "at least one token"),
        (lambda lm: lm.prefix(list(range(10)) * 30), "reads at most 256"),
        (lambda lm: lm.generate(list(range(10)) * 25, [[1]], 10), "needs 260 tokens"),
        (lambda lm: lm.score(PREFIX, [[10_000]]), r"must lie in \[0, "),
        (lambda lm: lm.prefix([-1]), r"must lie in \[0, "),
    ],
)
def test_bad_calls_raise_clear_errors(tiny_lm, call, message):
    with pytest.raises(ValueError, match=message):
        call(tiny_lm)


def test_int8_follows_float32_on_the_cpu(tiny_lm):
    import copy

    from model.devices import quantize_int8, wants_int8

    ids = torch.randint(0, tiny_lm.vocab_size, (1, 24))
    quantized = quantize_int8(copy.deepcopy(tiny_lm.model))
    assert FrozenLM(quantized, tiny_lm.tokenizer, "q").precision == "int8" and tiny_lm.precision == "float32"
    with torch.inference_mode():
        a, b = tiny_lm.model(ids).logits, quantized(ids).logits
    assert torch.allclose(a.log_softmax(-1), b.log_softmax(-1), atol=0.1)
    assert wants_int8("int8", torch.device("cpu")) and not wants_int8("fp32", torch.device("cpu"))
    assert not wants_int8("auto", torch.device("cuda"))
    with pytest.raises(ValueError, match="for CPUs"):
        wants_int8("int8", torch.device("cuda"))
