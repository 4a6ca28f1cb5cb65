"""Weights stored as int8 rows with one float16 scale per row: a quarter of float32's bytes, for the files the
repository ships (the tracked tree travels to a lent GPU under a 64 MiB limit). Each weight of two or more
dimensions is seen as (first dimension, everything else); the rest is stored in float16."""

from __future__ import annotations

import torch

SCALE_SUFFIX = ".int8_row_scale"  # beside the int8 weight of that name: its per-row scale


def to_int8_rows(
    state: dict[str, torch.Tensor], min_size: int = 0, matrices_only: bool = False
) -> dict[str, torch.Tensor]:
    """``state`` with every floating weight of ≥ 2 dimensions (exactly 2 with ``matrices_only``) and ≥ ``min_size``
    elements as int8 rows + scales."""
    stored = {}
    for name, value in state.items():
        value = value.detach()
        shaped = value.dim() == 2 if matrices_only else value.dim() >= 2
        if value.is_floating_point() and shaped and value.numel() >= min_size:
            rows = value.float().reshape(value.shape[0], -1)
            scale = (rows.abs().amax(dim=1, keepdim=True).clamp_min(1e-8) / 127).half()
            stored[name] = torch.round(rows / scale.float()).clamp(-127, 127).to(torch.int8).reshape(value.shape)
            stored[name + SCALE_SUFFIX] = scale
        else:
            stored[name] = value.half() if value.is_floating_point() else value
    return {k: v.contiguous() for k, v in stored.items()}


def from_int8_rows(stored: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The float32 state ``to_int8_rows`` stored (integer tensors that are not int8 rows kept as they are)."""
    state = {k: v for k, v in stored.items() if not k.endswith(SCALE_SUFFIX)}
    for scale_name in [k for k in stored if k.endswith(SCALE_SUFFIX)]:
        name = scale_name.removesuffix(SCALE_SUFFIX)
        weight = state[name]
        state[name] = (weight.float().reshape(weight.shape[0], -1) * stored[scale_name].float()).reshape(weight.shape)
    return {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
