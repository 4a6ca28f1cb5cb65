"""Prompt templates for classify / enhance / synthesize, built directly as token ids with labelled segments.

The default follows the paper: an instruction naming the labels, then ``###``-separated demonstrations
``Input: < audio tokens >`` / ``Output: label``, then the query. Audio tokens are LLM token ids (level 0 reads
as words; finer levels as sub-word pieces, levels separated by `` |``). Every prompt records its segments
(instruction, each demo's tokens per level and label, the query) so the app can colour the token view.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch

INPUT, OUTPUT, SEPARATOR, LEVEL_BREAK = "Input: <", " >\nOutput:", "\n###\n", " |"
CHANNEL_INSTRUCTION = "Each audio clip written in audio tokens is a recording of its label."


@dataclass(frozen=True)
class Segment:
    """``ids[start:end]`` of the prompt; ``role`` ∈ instruction, demo, label, query, answer, text."""

    role: str
    start: int
    end: int
    demo: int | None = None  # which demonstration (0-based); None for the instruction and the query
    level: int | None = None  # codec level of audio tokens; None for text


@dataclass
class Prompt:
    ids: list[int] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)

    def add(self, ids: Sequence[int], role: str, demo: int | None = None, level: int | None = None) -> None:
        ids = [int(i) for i in ids]
        if ids:
            self.segments.append(Segment(role, len(self.ids), len(self.ids) + len(ids), demo, level))
            self.ids.extend(ids)

    def __len__(self) -> int:
        return len(self.ids)

    def spans(self, role: str) -> dict[int, tuple[int, int]]:
        """Per demonstration: (first, last + 1) position of its segments with ``role``."""
        out: dict[int, tuple[int, int]] = {}
        for s in self.segments:
            if s.role == role and s.demo is not None:
                start, end = out.get(s.demo, (s.start, s.end))
                out[s.demo] = (min(start, s.start), max(end, s.end))
        return out


@dataclass(frozen=True)
class PromptOptions:
    """Choices that change accuracy (benchmarked in ``bench/fewshot.py``)."""

    levels: tuple[int, ...] = (0,)  # codec levels shown to the LLM for classification
    repeats: int = 1  # how many times the demonstrations are shown (each pass in another order)
    order: str = "interleaved"  # interleaved (round-robin by label) | grouped | as_given
    # letters (A, B, C, … standing for the labels) beat the label words themselves: 0.83 vs 0.63 on 60 dev
    # episodes of 2-way 1-shot commands (Qwen-0.5B), because a label word carries its own prior (bench/fewshot.py)
    label_format: str = "letters"  # letters | words
    collapse_repeats: bool = True  # "cat cat cat dog" → "cat dog": the same content at any speaking rate
    instruction: str = "Classify each audio clip written in audio tokens. Answer with one of: {labels}."


def label_names(labels: Sequence[str], options: PromptOptions) -> list[str]:
    """The strings the LLM writes for each label."""
    if options.label_format == "letters":
        return [chr(ord("A") + i) for i in range(len(labels))]
    return list(labels)


def order_demos(labels_of_demos: Sequence[str], options: PromptOptions, seed: int = 0) -> list[int]:
    """Indices of the demonstrations in presentation order (deterministic)."""
    indices = list(range(len(labels_of_demos)))
    if options.order == "grouped":
        return sorted(indices, key=lambda i: (labels_of_demos[i], i))
    if options.order == "interleaved":
        by_label: dict[str, list[int]] = {}
        for i in indices:
            by_label.setdefault(labels_of_demos[i], []).append(i)
        columns = list(by_label.values())
        rotation = seed % max(1, len(columns))
        columns = columns[rotation:] + columns[:rotation]
        return [col[k] for k in range(max(map(len, columns))) for col in columns if k < len(col)]
    return indices


def audio_ids(level_ids: Sequence[torch.Tensor], levels: Sequence[int], collapse: bool) -> list[list[int]]:
    """The token ids of the chosen levels, optionally with consecutive repeats collapsed."""
    out = []
    for level in levels:
        ids = level_ids[level].tolist()
        if collapse:
            ids = [t for i, t in enumerate(ids) if i == 0 or t != ids[i - 1]]
        out.append(ids)
    return out


class PromptBuilder:
    """Turns clips' token ids and texts into prompts for one LLM tokenizer (``encode``: text → ids)."""

    def __init__(self, encode: Callable[[str], list[int]]):
        self.encode = encode
        self._cache: dict[str, list[int]] = {}

    def text(self, text: str) -> list[int]:
        if text not in self._cache:
            self._cache[text] = self.encode(text)
        return self._cache[text]

    def answer_ids(self, name: str) -> list[int]:
        """What follows ``Output:`` for a label: a space, the name, and the separator's newline."""
        return self.text(" " + name) + self.text("\n")

    def add_audio(
        self, prompt: Prompt, role: str, pieces: list[list[int]], levels: Sequence[int], demo: int | None
    ) -> None:
        for k, (ids, level) in enumerate(zip(pieces, levels, strict=True)):
            if k:
                prompt.add(self.text(LEVEL_BREAK), "text", demo)
            prompt.add(ids, role, demo, level)

    def classify_prefix(
        self, demos: Sequence[tuple[list[list[int]], str]], names: Sequence[str], options: PromptOptions
    ) -> Prompt:
        """Instruction + demonstrations, ending after the last separator (ready for a query)."""
        prompt = Prompt()
        prompt.add(self.text(options.instruction.format(labels=", ".join(names)) + SEPARATOR), "instruction")
        labels = [label for _, label in demos]
        for rep in range(options.repeats):
            for index in order_demos(labels, options, seed=rep):
                pieces, name = demos[index]
                prompt.add(self.text(INPUT), "text", index)
                self.add_audio(prompt, "demo", pieces, options.levels, index)
                prompt.add(self.text(OUTPUT), "text", index)
                prompt.add(self.text(" " + name), "label", index)
                prompt.add(self.text("\n") + self.text(SEPARATOR.lstrip("\n")), "text", index)
        return prompt

    def channel_block(self, pieces: list[list[int]], name: str, levels: Sequence[int], demo: int | None) -> Prompt:
        """Channel order, label first: ``Label: A\\nInput: < audio tokens >`` (no separator)."""
        prompt = Prompt()
        prompt.add(self.text(f"Label: {name}\nInput: <"), "label" if demo is not None else "text", demo)
        self.add_audio(prompt, "demo" if demo is not None else "query", pieces, levels, demo)
        prompt.add(self.text(" >"), "text", demo)
        return prompt

    def channel_prefix(self, demos: Sequence[tuple[int, list[list[int]]]], name: str, options: PromptOptions) -> Prompt:
        """Instruction + the ``(index, pieces)`` demonstrations of one label, ending with ``Label: name\\nInput: <``
        so that the LLM's probability of a query's tokens is read next."""
        prompt = Prompt()
        prompt.add(self.text(CHANNEL_INSTRUCTION + SEPARATOR), "instruction")
        for _ in range(options.repeats):
            for index, pieces in demos:
                prompt = concat(prompt, self.channel_block(pieces, name, options.levels, index))
                prompt.add(self.text(SEPARATOR), "text", index)
        prompt.add(self.text(f"Label: {name}\nInput: <"), "text")
        return prompt

    def query(self, pieces: list[list[int]], levels: Sequence[int]) -> Prompt:
        """``Input: < query tokens >\\nOutput:`` (appended to a prefix)."""
        prompt = Prompt()
        prompt.add(self.text(INPUT), "text")
        self.add_audio(prompt, "query", pieces, levels, None)
        prompt.add(self.text(OUTPUT), "text")
        return prompt

    def input_audio(self, pieces: list[list[int]], levels: Sequence[int], demo: int | None) -> Prompt:
        """``Input: < audio tokens >`` (the noisy clip of an enhancement pair or query)."""
        prompt = Prompt()
        prompt.add(self.text(INPUT), "text", demo)
        self.add_audio(prompt, "demo" if demo is not None else "query", pieces, levels, demo)
        prompt.add(self.text(" >"), "text", demo)
        return prompt

    def input_text(self, text: str, demo: int | None) -> Prompt:
        """``Input: some words`` (the text of a synthesis pair or query)."""
        prompt = Prompt()
        prompt.add(self.text("Input:"), "text", demo)
        prompt.add(self.text(" " + text), "demo" if demo is not None else "query", demo)
        return prompt

    def output_open(self) -> list[int]:
        return self.text("\nOutput: <")

    def pair_prefix(
        self, demos: Sequence[tuple[Prompt, list[list[int]]]], levels: Sequence[int], instruction: str
    ) -> Prompt:
        """Enhance/synthesize demonstrations: ``Input: …`` / ``Output: < audio tokens >`` pairs."""
        prompt = Prompt()
        prompt.add(self.text(instruction + SEPARATOR), "instruction")
        for index, (input_prompt, output_pieces) in enumerate(demos):
            prompt = concat(prompt, self.pair(input_prompt, output_pieces, levels, index))
        return prompt

    def pair(self, input_prompt: Prompt, output_pieces: list[list[int]], levels: Sequence[int], index: int) -> Prompt:
        """One demonstration: its input, ``Output: < audio tokens >`` and the separator."""
        prompt = concat(input_prompt)
        prompt.add(self.output_open(), "text", index)
        self.add_audio(prompt, "label", output_pieces, levels, index)
        prompt.add(self.text(" >" + SEPARATOR), "text", index)
        return prompt


def concat(*prompts: Prompt) -> Prompt:
    """One prompt from several, segments shifted to their new positions."""
    out = Prompt()
    for p in prompts:
        offset = len(out.ids)
        out.ids.extend(p.ids)
        out.segments.extend(Segment(s.role, s.start + offset, s.end + offset, s.demo, s.level) for s in p.segments)
    return out
