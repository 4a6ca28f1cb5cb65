"""The learning-rate schedule both trainers use (codec and speech adapter)."""

from __future__ import annotations

import math


def warmup_cosine(step: int, steps: int, peak: float, warmup: int, floor: float = 0.1) -> float:
    """Linear warm-up over ``warmup`` steps, then cosine decay from ``peak`` to ``floor × peak`` at ``steps``
    (and ``floor × peak`` after it). A pure function of the step, so a resumed run continues the same curve."""
    rise = min(1.0, (step + 1) / max(1, warmup))
    progress = min(1.0, step / max(1, steps))
    return peak * rise * (floor + (1 - floor) / 2 * (1 + math.cos(math.pi * progress)))
