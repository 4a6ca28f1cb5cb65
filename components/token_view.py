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


def token_view(prompt: Prompt, decode: Callable[[list[int]], list[str]], max_tokens: int = 3000) -> list[tuple]:
    """HighlightedText value: one (text, category) per token; ``decode`` maps ids to their texts."""
    ids = prompt.ids[-max_tokens:]
    offset = len(prompt.ids) - len(ids)
    texts = decode(ids)
    labels: list[str | None] = [None] * len(ids)
    for segment in prompt.segments:
        name = category(segment.role, segment.level)
        for position in range(max(segment.start, offset), segment.end):
            labels[position - offset] = name
    view = [("… ", None)] if offset else []
    return view + list(zip(texts, labels, strict=True))


def level_view(words_per_level: list[list[str]], role: str = "query") -> list[tuple]:
    """A clip's tokens per level, one line per level (the codec explorer)."""
    view: list[tuple] = []
    for level, words in enumerate(words_per_level):
        view.append((f"L{level}: ", None))
        view.extend((word + " ", category(role, level)) for word in words)
        view.append(("\n", None))
    return view
