"""How the LLM decides a label: three scorers behind one small interface, each with its own prepared state.

    direct   the LLM writes the label after the query; each label scored as a whole (sum of its tokens'
             log-probs), minus its score for an empty query (content-free calibration, optional)
    channel  the LLM reads the query after each label's demonstrations, and each demonstration after the
             query (noisy-channel prompting, ``channel.py``)
    greedy   the paper's recipe: greedy decoding restricted, step by step, to the tokens of the labels

``prepare`` runs once per support set (the instruction and demonstrations, cached); ``decide`` runs per
query. Each scorer says what its per-demonstration evidence means (``EvidenceKind``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

import torch

from model.icl.channel import ChannelSupport, channel_probabilities, channel_scores, channel_support
from model.icl.prompts import Prompt, PromptBuilder, PromptOptions, concat
from model.lm.frozen import FrozenLM, Prefix


class Scoring(StrEnum):
    DIRECT = "direct"
    CHANNEL = "channel"
    GREEDY = "greedy"


class Calibration(StrEnum):
    CONTENT_FREE = "content_free"
    NONE = "none"


class EvidenceKind(StrEnum):
    ATTENTION = "attention share"  # per demonstration: its share of the LLM's attention at the answer
    CHANNEL_GAIN = "channel gain"  # per demonstration: how much more likely the query made it (softmax)


def parse_choice(kind: type[StrEnum], value, name: str) -> StrEnum:
    """``value`` as a member of ``kind``; a ``ValueError`` naming the valid values otherwise."""
    try:
        return kind(value)
    except ValueError:
        valid = ", ".join(repr(member.value) for member in kind)
        raise ValueError(f"Unknown {name} {value!r}: use one of {valid}.") from None


@dataclass(frozen=True)
class Decision:
    """A scorer's answer for one query."""

    probs: torch.Tensor  # (labels,) summing to 1
    scores: torch.Tensor  # (labels,) raw scores (direct/greedy: answer log-prob; channel: per query token)
    query: Prompt  # the query's part of the prompt
    evidence: list[float]  # per demonstration, shares summing to 1 (or empty when not asked for)


@dataclass(frozen=True)
class PrefixState:
    """Direct and greedy scoring: the instruction + demonstrations run once, and each label's bias."""

    prompt: Prompt
    prefix: Prefix
    content_free: torch.Tensor  # (labels,) scores for an empty query; zeros when not calibrated


class Scorer:
    """The interface: ``prepare`` a support set once, then ``decide`` each query."""

    evidence_kind: EvidenceKind

    def __init__(self, lm: FrozenLM, builder: PromptBuilder):
        self.lm, self.builder = lm, builder

    def prepare(self, prompt: Prompt, pieces: list, names: Sequence[str], options: PromptOptions, calibrate: bool):
        raise NotImplementedError

    def decide(self, state, names: Sequence[str], query: list[list[int]], options: PromptOptions, explain: bool):
        raise NotImplementedError

    def prefix_length(self, state) -> int:
        """Tokens already in the cache before a query (for the context guard)."""
        return len(state.prompt)

    def _score_labels(self, prefix: Prefix, names: Sequence[str]) -> torch.Tensor:
        return self.lm.score(prefix, [self.builder.answer_ids(n) for n in names])

    def _attention(self, state: PrefixState, query: Prompt) -> list[float]:
        weights = self.lm.attention_from_last(state.prefix, query.ids)
        spans = concat(state.prompt, query).spans("demo")
        totals = [float(weights[slice(*spans[i])].sum()) if i in spans else 0.0 for i in range(len(spans))]
        total = sum(totals) or 1.0
        return [t / total for t in totals]


class DirectScorer(Scorer):
    evidence_kind = EvidenceKind.ATTENTION

    def prepare(self, prompt, pieces, names, options, calibrate):
        prefix = self.lm.prefix(prompt.ids)
        content_free = torch.zeros(len(names))
        if calibrate:
            empty = self.builder.query([[] for _ in options.levels], options.levels)
            content_free = self._score_labels(self.lm.extend(prefix, empty.ids), names)
        return PrefixState(prompt, prefix, content_free)

    def decide(self, state: PrefixState, names, query, options, explain):
        query_prompt = self.builder.query(query, options.levels)
        scores = self._score_labels(self.lm.extend(state.prefix, query_prompt.ids), names)
        probs = torch.softmax(scores - state.content_free, dim=0)
        return Decision(probs, scores, query_prompt, self._attention(state, query_prompt) if explain else [])


class GreedyScorer(DirectScorer):
    def prepare(self, prompt, pieces, names, options, calibrate):
        return PrefixState(prompt, self.lm.prefix(prompt.ids), torch.zeros(len(names)))

    def decide(self, state: PrefixState, names, query, options, explain):
        query_prompt = self.builder.query(query, options.levels)
        extended = self.lm.extend(state.prefix, query_prompt.ids)
        scores = self._score_labels(extended, names)
        probs = self._greedy_choice(extended, names)
        return Decision(probs, scores, query_prompt, self._attention(state, query_prompt) if explain else [])

    def _greedy_choice(self, prefix: Prefix, names: Sequence[str]) -> torch.Tensor:
        candidates = [self.builder.text(" " + n) for n in names]
        alive = list(range(len(names)))
        for step in range(max(map(len, candidates))):
            allowed = sorted({candidates[i][step] for i in alive if step < len(candidates[i])})
            if len(alive) == 1 or not allowed:
                break
            token = int(self.lm.generate(prefix, [allowed], 1)[0])
            alive = [i for i in alive if step < len(candidates[i]) and candidates[i][step] == token]
            prefix = self.lm.extend(prefix, [token])
        probs = torch.zeros(len(names))
        probs[alive] = 1.0 / len(alive)
        return probs


class ChannelScorer(Scorer):
    evidence_kind = EvidenceKind.CHANNEL_GAIN

    def prepare(self, prompt, pieces, names, options, calibrate) -> ChannelSupport:
        indexed = [(p, list(names).index(name)) for p, name in pieces]
        return channel_support(self.lm, self.builder, indexed, list(names), options)

    def decide(self, state: ChannelSupport, names, query, options, explain):
        scores, evidence = channel_scores(self.lm, self.builder, state, query, options)
        query_prompt = Prompt()
        self.builder.add_audio(query_prompt, "query", query, options.levels, None)
        return Decision(channel_probabilities(scores), scores, query_prompt, evidence)

    def prefix_length(self, state: ChannelSupport) -> int:
        return 0  # every query is read after each label's prompt, which the support set has already sized


SCORERS: dict[Scoring, type[Scorer]] = {
    Scoring.DIRECT: DirectScorer,
    Scoring.CHANNEL: ChannelScorer,
    Scoring.GREEDY: GreedyScorer,
}
