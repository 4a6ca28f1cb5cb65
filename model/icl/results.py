"""Typed results of the few-shot pipeline (CPU tensors and arrays; the prompt for the token view)."""

from __future__ import annotations

from dataclasses import dataclass

import torch

from model.audio import Audio
from model.codec.codes import Codes
from model.icl.prompts import Prompt
from model.icl.scorers import EvidenceKind


@dataclass(frozen=True)
class TokenizedClip:
    """A clip as the LLM sees it: codes, the LLM token ids per level, and their text per level."""

    audio: Audio
    codes: Codes
    token_ids: list[torch.Tensor]  # per level, (T_i,) LLM ids
    text: list[list[str]]  # per level, the table strings


@dataclass(frozen=True)
class ClassifyResult:
    label: str  # the most probable label
    probs: dict[str, float]  # calibrated probabilities, summing to 1
    scores: dict[str, float]  # raw: direct, total log-prob of each answer; channel, log-prob per query token
    prompt: Prompt  # instruction + demonstrations + query, up to "Output:"
    evidence: list[float]  # per demonstration, shares summing to 1 (empty when not asked for); see evidence_kind
    evidence_kind: EvidenceKind  # attention share at the answer (direct, greedy) or channel gain (channel)
    seconds: float


@dataclass(frozen=True)
class AudioResult:
    """Generated audio, and what doing nothing but the codec would give: ``copy_codes`` are the codes of an
    exact copy of the input (enhance: the noisy query's own; synthesize: the demonstrations of the words,
    joined), the baseline the LLM's writing must beat, and ``copy_audio`` those codes decoded as ``audio`` is
    (synthesis: word by word, with the same pauses)."""

    audio: Audio
    codes: Codes
    prompt: Prompt  # the whole prompt including the generated tokens
    seconds: float
    copy_codes: Codes | None = None
    copy_audio: Audio | None = None

    @property
    def copy_accuracy(self) -> list[float]:
        """Per level written, the share of generated codes equal to the copy's (empty without a copy)."""
        return self.codes.agreement(self.copy_codes) if self.copy_codes is not None else []
