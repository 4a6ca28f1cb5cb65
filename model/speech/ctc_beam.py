"""CTC prefix beam search: the alignment head's most likely transcripts, not only its frame-by-frame best one.

Greedy CTC reading takes each frame's best class; a word the head half-hears (its tokens second-best in a few
frames) is lost. The prefix beam search (Graves 2012; Hannun et al. 2014) keeps the ``beam`` likeliest label
sequences, summing over every alignment of each (blank / non-blank endings kept apart, so "a a" and "aa" stay
distinct), and returns them with their log probability, for a language model to choose among
(``model.speech.ask.AskPipeline``, ``rescore``).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable

import numpy as np
import torch

_NONE = -math.inf


def _add(a: float, b: float) -> float:
    return float(np.logaddexp(a, b))


def ctc_beam_search(
    log_probs: torch.Tensor,
    beam: int = 8,
    per_frame: int = 8,
    blank: int = 0,
    allowed: Callable[[tuple[int, ...]], bool] | None = None,
    complete: Callable[[tuple[int, ...]], bool] | None = None,
) -> list[tuple[tuple[int, ...], float]]:
    """(T, C) per-frame log probabilities → up to ``beam`` (labels, log probability) pairs, likeliest first.
    Each frame extends the beams by its ``per_frame`` likeliest labels only (and by each beam's last label,
    which a repeat needs); labels are class indices without the blank. ``allowed``: whether a beam may grow into
    these labels (a lexicon: only prefixes of known words); ``complete``: whether a finished beam may be
    returned (its last word whole), where any finished beam is."""
    if log_probs.dim() != 2:
        raise ValueError(f"Expected (frames, classes) log probabilities, got shape {tuple(log_probs.shape)}.")
    scores = log_probs.detach().float().cpu().numpy()
    top = np.argsort(-scores, axis=1)[:, : per_frame + 1]
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (0.0, _NONE)}  # labels → (ends in blank, in a label)
    for frame, candidates in zip(scores, top, strict=True):
        following: dict[tuple[int, ...], list[float]] = defaultdict(lambda: [_NONE, _NONE])
        for labels, (in_blank, in_label) in beams.items():
            total = _add(in_blank, in_label)
            stay = following[labels]
            stay[0] = _add(stay[0], total + frame[blank])
            last = labels[-1] if labels else None
            options = {int(c) for c in candidates if c != blank} | ({last} if last is not None else set())
            for label in options:
                p = float(frame[label])
                grows = allowed is None or allowed((*labels, label))
                if label == last:  # a repeat: the same label goes on, or (after a blank) is said again
                    stay[1] = _add(stay[1], in_label + p)
                    if grows:
                        extended = following[(*labels, label)]
                        extended[1] = _add(extended[1], in_blank + p)
                elif grows:
                    extended = following[(*labels, label)]
                    extended[1] = _add(extended[1], total + p)
        reachable = [item for item in following.items() if _add(*item[1]) > _NONE]  # a repeat with no blank before
        ranked = sorted(reachable, key=lambda item: -_add(*item[1]))[:beam]
        beams = {labels: (b, n) for labels, (b, n) in ranked}
    ranked = [(labels, _add(b, n)) for labels, (b, n) in sorted(beams.items(), key=lambda item: -_add(*item[1]))]
    finished = [item for item in ranked if complete is None or complete(item[0])]
    return finished or ranked
