"""The trained part of the direct path: Whisper-base encoder frames (50 Hz, 512-d) → the LLM's input-embedding
space at 12.5 Hz. Stacking ``stack`` frames then a two-layer MLP (Kang & Roy use a similar downsample + project),
optionally with temporal-context blocks between its layers (``AdapterConfig.context``; the committed adapters have
two); the output is scaled to the size of the LLM's own token embeddings, so the LLM meets vectors of a familiar norm.

An *aligned* adapter (``AdapterConfig.aligned``) is first trained with CTC against the transcript's LLM tokens,
scoring each output by its cosine to the token embeddings (plus a learned blank), so that its outputs land next
to the embeddings of the words spoken. What the LLM then reads is CTC-compressed: blank frames dropped, each run
of frames on the same token made into one embedding — about one vector per spoken token (the compression of
Gaido et al. 2021 and of CTC-based speech LLMs). ``AdapterConfig.reads`` says which: the run's average (continuous),
the head's expected token embedding, or the embedding of the run's token itself. The committed adapters read
tokens: a blend of near tokens pulls a small LLM off the question even where the head hears every word right
(``bench/ask.py``, same weights: 0.159 → 0.326 of the text accuracy with SmolLM2, 0.329 → 0.436 with Qwen).

A head over tokens learns each word only from hearing it; ``AdapterConfig.head = "characters"`` spells instead
(``model.speech.spelling``): a linear CTC layer over letters on the same outputs, at 50 or 25 Hz (letters come
faster than tokens), whose likeliest transcripts the pipeline writes out, tokenizes and hands the LLM as its own
token embeddings (``AskPipeline.listen``).
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from model.int8_rows import from_int8_rows, to_int8_rows

CONFIG_NAME, WEIGHTS_NAME = "adapter.json", "adapter.safetensors"
READS = ("vectors", "vocabulary", "tokens")
HEADS = ("tokens", "characters")
_INT8_MIN_SIZE = 4096  # smaller tensors (norms, biases, the depthwise kernels) stay float16


@dataclass
class AdapterConfig:
    lm: str = "smollm2-135m"  # the LLM whose embedding space it writes into
    lm_dim: int = 576
    encoder_dim: int = 512  # Whisper base
    encoder_layers: int = 6  # which encoder block's output it reads (6: the last)
    stack: int = 4  # encoder frames per speech embedding: 50 Hz → 12.5 Hz
    hidden: int = 1024
    # temporal context: residual depthwise-separable convolution blocks over the hidden sequence (12.5 Hz), each
    # seeing ``context_kernel`` neighbouring outputs; 0 keeps the plain per-output MLP (adapters saved before it)
    context: int = 0
    context_kernel: int = 5
    context_width: int = 256  # each block's pointwise bottleneck
    embedding_norm: float = 1.0  # typical norm of the LLM's token embeddings (set at training time)
    aligned: bool = False  # trained with the CTC alignment stage: its outputs are CTC-compressed for the LLM
    vocabulary_size: int = 0  # aligned: how many LLM tokens the CTC head scores (those of the training text, sorted)
    # aligned: what the LLM reads for each compressed run of frames — "vectors": the adapter's own outputs,
    # averaged; "vocabulary": the head's expected token embedding (its probabilities over the vocabulary times the
    # LLM's embeddings of those tokens), a point inside the span of what the LLM was trained to read; "tokens": the
    # embedding of the run's token itself (gradients pass as if it were "vocabulary"), so a clip the head hears
    # right reaches the LLM exactly as its transcript would: a blend of near tokens ("up" with "un", "tall" with
    # "outrageous") pulls the small LLM off the question
    reads: str = "vectors"
    # aligned: what the CTC head scores — "tokens": the LLM's sub-word tokens, by cosine to their embeddings (the
    # head above); "characters": the letters of ``model.speech.spelling`` from a linear layer on the outputs, whose
    # transcript the LLM then reads as its own tokens (``AskPipeline.listen``): it can spell a word never heard
    head: str = "tokens"

    def __post_init__(self) -> None:
        if self.reads not in READS:
            raise ValueError(f"unknown reads={self.reads!r} (use one of {READS}).")
        if self.head not in HEADS:
            raise ValueError(f"unknown head={self.head!r} (use one of {HEADS}).")
        if self.context_kernel % 2 == 0:
            raise ValueError(f"context_kernel must be odd (centred on its frame), not {self.context_kernel}.")

    @property
    def rate(self) -> float:
        return 50.0 / self.stack


class ContextBlock(nn.Module):
    """x + MLP(LayerNorm(depthwise conv(x))) over (B, T, C): each output sees its ``kernel`` neighbours. The MLP
    alone reads 4 stacked encoder frames (80 ms); Whisper's frames carry context of their own, but which token a
    CTC frame emits, and whether it repeats one, is easier to decide beside the frames around it."""

    def __init__(self, channels: int, kernel: int, width: int):
        super().__init__()
        self.depthwise = nn.Conv1d(channels, channels, kernel, padding=kernel // 2, groups=channels)
        self.norm = nn.LayerNorm(channels)
        self.mlp = nn.Sequential(nn.Linear(channels, width), nn.GELU(), nn.Linear(width, channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        mixed = self.depthwise(x.transpose(1, 2)).transpose(1, 2)
        return x + self.mlp(self.norm(mixed))


class SpeechAdapter(nn.Module):
    """(T, 512) encoder frames → (ceil(T / stack), lm_dim) embeddings; the frozen parts are outside."""

    def __init__(self, config: AdapterConfig):
        super().__init__()
        self.config = config
        self.norm = nn.LayerNorm(config.encoder_dim * config.stack)
        blocks = [
            ContextBlock(config.hidden, config.context_kernel, config.context_width) for _ in range(config.context)
        ]
        self.net = nn.Sequential(
            nn.Linear(config.encoder_dim * config.stack, config.hidden),
            nn.GELU(),
            *blocks,
            nn.Linear(config.hidden, config.lm_dim),
        )
        if config.aligned and config.head == "characters":
            from model.speech.spelling import ALPHABET

            self.letters = nn.Linear(config.lm_dim, 1 + len(ALPHABET))
        elif config.aligned:
            self.blank = nn.Parameter(torch.randn(config.lm_dim) / math.sqrt(config.lm_dim))
            self.logit_scale = nn.Parameter(torch.tensor(math.log(10.0)))  # cosines are small: sharpen them
            self.register_buffer("vocabulary", torch.zeros(config.vocabulary_size, dtype=torch.long))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """(T, E) or (B, T, E) → (T', D) or (B, T', D), T' = ceil(T / stack) (the tail is zero-padded)."""
        single = frames.dim() == 2
        x = frames[None] if single else frames
        pad = (-x.shape[1]) % self.config.stack
        x = nn.functional.pad(x, (0, 0, 0, pad))
        x = x.reshape(x.shape[0], x.shape[1] // self.config.stack, -1)
        y = self.net(self.norm(x))
        y = self._at_embedding_norm(y)
        return y[0] if single else y

    def _at_embedding_norm(self, x: torch.Tensor) -> torch.Tensor:
        return x / (x.norm(dim=-1, keepdim=True) + 1e-6) * self.config.embedding_norm

    # --- the alignment head (aligned adapters) ------------------------------------------------------------------
    @property
    def spells(self) -> bool:
        """Whether the head scores characters (``model.speech.spelling``) rather than the LLM's tokens."""
        return self.config.aligned and self.config.head == "characters"

    def character_logits(self, speech: torch.Tensor) -> torch.Tensor:
        """(..., D) speech embeddings → (..., 1 + len(ALPHABET)) CTC logits of a character head: blank, then letters."""
        # the outputs sit at the LLM's embedding norm (0.51 for Qwen): a linear layer learns faster from unit-variance
        # components
        return self.letters(speech * (math.sqrt(self.config.lm_dim) / self.config.embedding_norm))

    def token_logits(self, speech: torch.Tensor, table: torch.Tensor, classes: torch.Tensor | None = None):
        """(..., D) speech embeddings → (..., 1 + V) CTC logits: blank, then the vocabulary's tokens (or only
        those at ``classes``, indices into it), by cosine to their rows of the LLM's input-embedding ``table``."""
        tokens = self.vocabulary if classes is None else self.vocabulary[classes]
        rows = torch.cat([self.blank[None], table[tokens].to(self.blank.dtype)])
        cosine = nn.functional.normalize(speech, dim=-1) @ nn.functional.normalize(rows, dim=-1).T
        return cosine * self.logit_scale.exp()

    @torch.no_grad()
    def best_tokens(self, speech: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """(T, D) → (T,) the LLM token id the head reads in each frame, -1 where it reads the blank."""
        return self._best_ids(self.token_logits(speech, table))

    def _best_ids(self, logits: torch.Tensor) -> torch.Tensor:
        best = logits.detach().argmax(-1)  # 0: blank
        return torch.where(best > 0, self.vocabulary[(best - 1).clamp(min=0)], -1)

    def vocabulary_index(self, ids: torch.Tensor) -> torch.Tensor:
        """LLM token ids → their index in the (sorted) vocabulary, -1 for tokens outside it."""
        index = torch.searchsorted(self.vocabulary, ids).clamp(max=len(self.vocabulary) - 1)
        return torch.where(self.vocabulary[index] == ids, index, -1)

    def compress(self, speech: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
        """(T, D) → (T'', D): blank frames dropped, each run of frames whose best token is the same averaged
        (differentiably: the choice of frames is discrete, the average is not)."""
        return self.read(speech, table)[0]

    def read(self, speech: torch.Tensor, table: torch.Tensor) -> tuple[torch.Tensor, list[int]]:
        """``compress`` and the LLM token ids its rows stand for (``heard``), from one pass of the head."""
        if not self.config.aligned:
            return speech, []
        if self.spells:
            raise ValueError("A character head's transcript is read with the LLM's tokenizer: AskPipeline.listen.")
        logits = self.token_logits(speech, table)  # once: it picks the runs and, read as vocabulary, fills them
        ids, run, counts = torch.unique_consecutive(self._best_ids(logits), return_inverse=True, return_counts=True)
        keep = ids >= 0
        if not bool(keep.any()):
            return speech[:0], []

        def run_means(x: torch.Tensor) -> torch.Tensor:
            sums = torch.zeros(len(counts), x.shape[-1], dtype=x.dtype, device=x.device)
            return (sums.index_add(0, run, x) / counts.to(x.dtype)[:, None])[keep]

        if self.config.reads in ("vocabulary", "tokens"):
            probabilities = run_means(logits[:, 1:].softmax(-1))  # the tokens' share, blank left out
            if self.config.reads == "tokens":  # the run's own token, with the blend's gradient (straight through)
                chosen = nn.functional.one_hot(self.vocabulary_index(ids[keep]), probabilities.shape[-1])
                probabilities = chosen.to(probabilities) + probabilities - probabilities.detach()
            return probabilities @ table[self.vocabulary].to(speech.dtype), ids[keep].tolist()
        return self._at_embedding_norm(run_means(speech)), ids[keep].tolist()

    def heard(self, speech: torch.Tensor, table: torch.Tensor) -> list[int]:
        """The LLM token ids the alignment head reads in (T, D) speech embeddings (CTC greedy: best token per
        frame, repeats merged, blanks dropped): what the compressed embeddings stand for, as a transcript."""
        tokens = torch.unique_consecutive(self.best_tokens(speech, table))
        return tokens[tokens >= 0].tolist()

    def save(self, folder: str | Path, int8: bool = False) -> Path:
        """Weights in float16, or with ``int8`` each weight matrix as int8 rows with one float16 scale per row (half
        the bytes again: the tracked tree travels to a lent GPU under a 64 MiB limit; ``bench.ask`` measures what
        it costs). The adapter computes in float32 after loading either way."""
        from safetensors.torch import save_file

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        state = self.state_dict()
        if int8:
            state = to_int8_rows(state, _INT8_MIN_SIZE, matrices_only=True)
        else:
            state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
        save_file({k: v.contiguous() for k, v in state.items()}, folder / WEIGHTS_NAME)
        (folder / CONFIG_NAME).write_text(json.dumps(asdict(self.config), indent=1))
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> SpeechAdapter:
        from safetensors.torch import load_file

        folder = Path(folder)
        if not (folder / CONFIG_NAME).is_file() or not (folder / WEIGHTS_NAME).is_file():
            raise ValueError(f"{folder} is not a speech adapter (needs {CONFIG_NAME} and {WEIGHTS_NAME}).")
        fields = AdapterConfig.__dataclass_fields__
        config = AdapterConfig(
            **{k: v for k, v in json.loads((folder / CONFIG_NAME).read_text()).items() if k in fields}
        )
        adapter = cls(config)
        adapter.load_state_dict(from_int8_rows(load_file(folder / WEIGHTS_NAME)))
        return adapter.eval()
