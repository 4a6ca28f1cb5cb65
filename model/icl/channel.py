"""Channel scoring: the frozen LLM rates how well each label's demonstrations predict the query, and back.

Direct scoring asks the LLM to *write* a label after the query; a 0.5 B LLM does that poorly for audio tokens
(it has to match the query against every demonstration in one step). Channel scoring (Min et al., 2022, "Noisy
Channel Language Model Prompting for Few-Shot Text Classification") reads the probability of the *query's
tokens* after the demonstrations of one label — the LLM copies the tokens it has just seen, which is what small
LLMs do best. Two readings, both the LLM's own log-probabilities:

* forward: ``log P(query | label c's demonstrations)``, one prompt per label;
* reverse: ``log P(demo | query) − log P(demo)`` averaged over label c's demonstrations: how much more
  predictable a demonstration becomes once the LLM has read the query.

The label's score is their sum per query token (so that its scale does not grow with the clip's length);
probabilities are its softmax over labels at a temperature fitted on training-set episodes (Bayes with a
uniform prior). The prompts per label and each demonstration's baseline ``log P(demo)`` are computed once per
support set.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from model.icl.prompts import CHANNEL_INSTRUCTION, SEPARATOR, Prompt, PromptBuilder, PromptOptions, concat
from model.lm.frozen import FrozenLM, Prefix

# Fitted by ``python -m bench.calibration`` (the NLL-optimal temperature on 80 training-set episodes of spoken
# words, Qwen2.5-Coder-0.5B with the shipped codec). Scores summed over the query's tokens instead of averaged
# put 93-99 % on the top label at 48-93 % accuracy; per token at this temperature, 51-86 % (bench_results/
# calibration.json).
TEMPERATURE = 1.44
NEUTRAL = "A"  # the label name in the reverse reading, where the demonstration's own label must not leak


@dataclass(frozen=True)
class ChannelSupport:
    label_prefixes: tuple[Prefix, ...]  # per label: instruction + its demonstrations + "Label: c\nInput: <"
    demo_ids: tuple[tuple[list[int], ...], ...]  # per label: each demonstration's tokens + " >"
    demo_labels: tuple[int, ...]  # per demonstration (in the order given): its label's index
    baselines: tuple[torch.Tensor, ...]  # per label: log P(demo) after the instruction alone
    prompt: Prompt  # every label's prompt, one after another (for the token view)


def channel_support(
    lm: FrozenLM,
    builder: PromptBuilder,
    demos: Sequence[tuple[list[list[int]], int]],
    names: Sequence[str],
    options: PromptOptions,
) -> ChannelSupport:
    """``demos``: (pieces per level, label index) in the order given."""
    flat = [_flat(builder, pieces, options) for pieces, _ in demos]
    prompts, prefixes, demo_ids = [], [], []
    for c, name in enumerate(names):
        mine = [(i, pieces) for i, (pieces, label) in enumerate(demos) if label == c]
        prompt = builder.channel_prefix(mine, name, options)
        prompts.append(prompt)
        prefixes.append(lm.prefix(prompt.ids))
        demo_ids.append(tuple(flat[i] + builder.text(" >") for i, _ in mine))
    baselines = _split(
        lm.score(lm.prefix(_reverse_head(builder)), [ids for group in demo_ids for ids in group]), demo_ids
    )
    return ChannelSupport(
        tuple(prefixes), tuple(demo_ids), tuple(label for _, label in demos), tuple(baselines), concat(*prompts)
    )


def channel_scores(
    lm: FrozenLM, builder: PromptBuilder, support: ChannelSupport, query_pieces: list[list[int]], options
) -> tuple[torch.Tensor, list[float]]:
    """Per label: forward + reverse log-probability per query token; per demonstration: its share of the
    reverse evidence."""
    query = _flat(builder, query_pieces, options)
    # Three LLM calls whatever the number of labels: every label's prompt + the query in one batch, the
    # instruction + query once, and every demonstration after it in one batch.
    forward = lm.score_each(support.label_prefixes, [query + builder.text(" >")] * len(support.label_prefixes))
    after_query = lm.prefix(_reverse_head(builder, query))
    read = _split(lm.score(after_query, [ids for group in support.demo_ids for ids in group]), support.demo_ids)
    gains = [r - base for r, base in zip(read, support.baselines, strict=True)]
    reverse = torch.stack([g.mean() for g in gains])
    # Each demonstration's gain, in the order the demonstrations were given.
    per_label = [iter(g.tolist()) for g in gains]
    demo_gain = torch.tensor([next(per_label[label]) for label in support.demo_labels])
    return (forward + reverse) / len(query), torch.softmax(demo_gain, dim=0).tolist()


def channel_probabilities(scores: torch.Tensor, temperature: float = TEMPERATURE) -> torch.Tensor:
    """Label probabilities from channel scores (the order never changes; only how sure they sound)."""
    return torch.softmax(scores / temperature, dim=0)


def _split(scores: torch.Tensor, groups: Sequence[Sequence]) -> list[torch.Tensor]:
    """One batch of scores back into per-label groups."""
    return list(torch.split(scores, [len(g) for g in groups]))


def _flat(builder: PromptBuilder, pieces: list[list[int]], options: PromptOptions) -> list[int]:
    """One token list for all shown levels, joined by the level break (as ``PromptBuilder.add_audio`` writes it)."""
    prompt = Prompt()
    builder.add_audio(prompt, "query", pieces, options.levels, None)
    return prompt.ids


def _reverse_head(builder: PromptBuilder, query: list[int] | None = None) -> list[int]:
    """Instruction [+ the query as a demonstration] + ``Label: A\\nInput: <``, before a demonstration is read."""
    ids = builder.text(CHANNEL_INSTRUCTION + SEPARATOR)
    if query is not None:
        ids = ids + builder.text(f"Label: {NEUTRAL}\nInput: <") + query + builder.text(" >") + builder.text(SEPARATOR)
    return ids + builder.text(f"Label: {NEUTRAL}\nInput: <")
