"""Does a prompt fit the LLM's context? Checked before the LLM runs, with advice that names a fix.

A support set of many long clips at all three codec levels (77 tokens/s) can outgrow the LLM's context (or a
server's smaller prompt limit, which keeps CPU latency bounded). Rather than truncate silently, the pipeline
refuses such a prompt and says what would fit: level 0 only, fewer demonstrations, or clips cut shorter
(``ClassifyOptions.clip_seconds``; the app's "cut every clip to" slider). Nothing is ever cut without asking.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

# Tokens kept free after the prompt for the query's wrapper and the longest answer.
ANSWER_RESERVE = 16


@dataclass(frozen=True)
class ClipCost:
    """What one clip costs in a classification prompt."""

    seconds: float
    tokens: int  # with the chosen levels (separators included)
    level0_tokens: int  # with level 0 only


@dataclass(frozen=True)
class Budget:
    tokens: int
    name: str  # says where the limit comes from, e.g. "the context of qwen2.5-coder-0.5b"


def check_classify_fits(
    budget: Budget, fixed: int, demos: Sequence[ClipCost], query: ClipCost | None, levels: Sequence[int]
) -> None:
    """Raise ``ValueError`` with advice if instruction + demonstrations + query (when not given yet, a clip as
    long as the longest demonstration) + answer exceed the budget. ``fixed``: the prompt's text tokens."""
    stand_in = query or max(demos, key=lambda d: d.tokens)
    needed = fixed + sum(d.tokens for d in demos) + stand_in.tokens + ANSWER_RESERVE
    if needed <= budget.tokens:
        return
    advice = []
    if tuple(levels) != (0,):
        level0 = fixed + sum(d.level0_tokens for d in demos) + stand_in.level0_tokens + ANSWER_RESERVE
        if level0 <= budget.tokens:
            advice.append(f"show the LLM level 0 only (about {level0:,} tokens)")
    room = budget.tokens - fixed - ANSWER_RESERVE
    audio = needed - fixed - ANSWER_RESERVE
    if room > 0:
        average = sum(d.tokens for d in demos) / len(demos)
        fit = math.floor((room - stand_in.tokens) / average) if room > stand_in.tokens else 0
        if 2 <= fit < len(demos):
            advice.append(f"use at most {fit} demonstrations of this length")
        longest = max(c.seconds for c in [*demos, stand_in])
        # Tokens grow about linearly with duration; 10 % spare covers frame rounding and level separators.
        seconds = math.floor(10 * 0.9 * longest * room / audio) / 10
        if seconds >= 0.1:
            advice.append(f"cut every clip to at most {seconds:.1f} s")
    advice = advice or ["use fewer and shorter demonstrations"]
    raise ValueError(
        f"This prompt needs about {needed:,} tokens ({len(demos)} demonstrations and the query at codec "
        f"level{'s' if len(levels) > 1 else ''} {', '.join(map(str, levels))}), but {budget.name} is "
        f"{budget.tokens:,} tokens. To make it fit: {'; or '.join(advice)}."
    )


def check_generation_fits(budget: Budget, needed: int, what: str) -> None:
    """Raise ``ValueError`` if an enhance/synthesize prompt plus the tokens to generate exceed the budget."""
    if needed > budget.tokens:
        raise ValueError(
            f"This {what} needs about {needed:,} tokens (demonstrations, query and the tokens to generate), but "
            f"{budget.name} is {budget.tokens:,} tokens. Use fewer or shorter demonstration pairs, or a shorter clip."
        )
