"""The prompt as coloured tokens: role (instruction, demonstrations, labels, query, answer) × codec level."""

from __future__ import annotations

from collections.abc import Callable

from model.icl.prompts import Prompt

ROLE_COLOURS = {"instruction": "#9ca3af", "label": "#f59e0b", "text": None}
LEVEL_COLOURS = {  # demo / query / generated answer, per codec level: darker = coarser
    "demo": ("#2563eb", "#60a5fa", "#bfdbfe"),
    "query": ("#16a34a", "#4ade80", "#bbf7d0"),
    "answer": ("#db2777", "#f472b6", "#fbcfe8"),
}


def category(role: str, level: int | None) -> str | None:
    if role in LEVEL_COLOURS and level is not None:
        return f"{role} L{level}"
    return None if role == "text" else role


def colour_map() -> dict[str, str]:
    colours = {k: v for k, v in ROLE_COLOURS.items() if v}
    for role, shades in LEVEL_COLOURS.items():
        colours.update({f"{role} L{level}": shade for level, shade in enumerate(shades)})
    return colours


def token_view(
    prompt: Prompt, decode: Callable[[list[int]], list[str]], max_tokens: int = 3000, head: int = 300
) -> list[tuple]:
    """HighlightedText value: one (text, category) per token; ``decode`` maps ids to their texts. A prompt longer
    than ``max_tokens`` shows its first ``head`` tokens (the instruction and the first demonstration's start)
    and its last ones (the query and the answer), with "… " where tokens were left out."""
    labels: list[str | None] = [None] * len(prompt.ids)
    for segment in prompt.segments:
        name = category(segment.role, segment.level)
        for position in range(segment.start, segment.end):
            labels[position] = name
    if len(prompt.ids) <= max_tokens:
        kept = [range(len(prompt.ids))]
    else:
        kept = [range(head), range(len(prompt.ids) - (max_tokens - head), len(prompt.ids))]
    view: list[tuple] = []
    for i, positions in enumerate(kept):
        if i:
            view.append(("… ", None))
        texts = decode([prompt.ids[k] for k in positions])
        view.extend(zip(texts, [labels[k] for k in positions], strict=True))
    return view


def level_view(words_per_level: list[list[str]], role: str = "query") -> list[tuple]:
    """A clip's tokens per level, one line per level (the codec explorer)."""
    view: list[tuple] = []
    for level, words in enumerate(words_per_level):
        view.append((f"L{level}: ", None))
        view.extend((word + " ", category(role, level)) for word in words)
        view.append(("\n", None))
    return view
