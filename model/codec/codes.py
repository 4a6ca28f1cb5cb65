"""Codes: what the codec emits for one clip."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Codes:
    """Multi-scale codes of one clip.

    ``levels[i]`` is a (T_i,) long tensor of row indices into level ``i``'s table (level 0: the word table;
    finer levels: the sub-word table). Indices are LM-independent; ``vocab.VocabMap`` turns them into an
    LLM's token ids and back. Frame counts grow with the level (T_0 < T_1 < T_2: multi-scale).
    """

    levels: tuple[torch.Tensor, ...]
    num_samples: int | None = None  # the clip's length at 16 kHz, so decoding restores it exactly

    def __post_init__(self):
        assert all(level.dim() == 1 and level.dtype == torch.long for level in self.levels), "codes are 1-D long"

    @property
    def num_levels(self) -> int:
        return len(self.levels)

    def lengths(self) -> list[int]:
        return [int(level.numel()) for level in self.levels]

    @staticmethod
    def joined(parts: list[Codes]) -> Codes:
        """Several clips' codes one after another, level by level (all with the same levels)."""
        return Codes(tuple(torch.cat(level) for level in zip(*(p.levels for p in parts), strict=True)))

    def upto(self, level: int) -> Codes:
        """Only levels ``0..level`` (coarser reconstruction)."""
        return Codes(self.levels[: level + 1], self.num_samples)

    def agreement(self, other: Codes) -> list[float]:
        """Per level both have, the share of positions where the two hold the same code (over the shorter
        length; 0.0 for an empty level). How exactly a generated clip copies a reference."""
        shares = []
        for mine, theirs in zip(self.levels, other.levels, strict=False):
            n = min(len(mine), len(theirs))
            shares.append(float((mine[:n] == theirs[:n]).float().mean()) if n else 0.0)
        return shares
