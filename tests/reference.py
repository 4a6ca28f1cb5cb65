"""Slow, obviously-correct reference computations that the fast paths are checked against."""

from __future__ import annotations

import torch


@torch.inference_mode()
def full_forward_score(lm, prefix: list[int], candidate: list[int]) -> float:
    """Log-prob of ``candidate`` after ``prefix`` from one uncached forward pass over the whole sequence."""
    ids = torch.tensor(prefix + candidate)[None]
    logprobs = torch.log_softmax(lm.model(ids).logits[0].float(), dim=-1)
    return float(sum(logprobs[len(prefix) - 1 + i, token] for i, token in enumerate(candidate)))


@torch.inference_mode()
def full_forward_greedy(lm, prefix: list[int], allowed: list[list[int]], n: int) -> list[int]:
    """Constrained greedy decoding by re-running the whole sequence at every step."""
    ids = list(prefix)
    for step in range(n):
        options = allowed[step if len(allowed) > 1 else 0]
        logits = lm.model(torch.tensor(ids)[None]).logits[0, -1]
        ids.append(options[int(torch.argmax(logits[options]))])
    return ids[len(prefix) :]
