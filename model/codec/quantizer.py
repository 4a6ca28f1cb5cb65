"""Quantisers whose codebooks are frozen LLM embedding rows seen through a learned low-dimensional map.

Taking the nearest frozen row in the full LLM space collapses to a handful of codes (../shared/DATA.md);
factorised codes work: the rows are centred, mapped by a learned linear layer to a few dimensions, and the
nearest neighbour is taken there (cosine for the acoustic levels, Euclidean for the semantic level 0, whose
map is fitted in closed form to k-means centroids). The code is always a row of the level's table, i.e.
an LLM token.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from model.codec.layers import pool, upsample


class VocabCodebook(nn.Module):
    """K code vectors (K, code_dim): K frozen, centred LLM rows (K, H) seen through a learned map H → code_dim.

    Training installs the rows (``set_rows``) and learns the map. The rows are never saved: a checkpoint
    stores the resulting code vectors (the ``frozen`` buffer, written by ``freeze``), so encoding and decoding
    need no LLM at all; the token ids of the rows are in the codec's config."""

    def __init__(self, num_rows: int, row_dim: int, code_dim: int):
        super().__init__()
        self.register_buffer("rows", torch.zeros(num_rows, row_dim), persistent=False)
        self.project = nn.Linear(row_dim, code_dim, bias=False)
        self.register_buffer("frozen", torch.zeros(num_rows, code_dim))
        self.has_rows = False

    def set_rows(self, rows: torch.Tensor) -> None:
        """Install the LLM's embedding rows for this level (centred: their mean carries no information)."""
        if rows.shape != self.rows.shape:
            raise ValueError(
                f"Codebook rows must have shape {tuple(self.rows.shape)}, got {tuple(rows.shape)}: "
                "the LLM's embedding size does not match the one the codec was trained with."
            )
        self.rows.copy_(rows - rows.mean(dim=0, keepdim=True))
        self.has_rows = True

    def vectors(self) -> torch.Tensor:
        """(K, code_dim) code vectors: mapped from the rows while they are installed, else the frozen copy."""
        return self.project(self.rows) if self.has_rows else self.frozen

    @torch.no_grad()
    def freeze(self) -> None:
        """Store the current code vectors, so a saved codec decodes without the rows."""
        self.frozen.copy_(self.project(self.rows))


class SemanticQuantizer(nn.Module):
    """Level 0: semantic features (..., E) → standardised → nearest of K word codes (Euclidean), and back.

    Its K code vectors are k-means centroids of the features, one per word of the level's table (the word a
    centroid is written as is arbitrary but fixed). Unlike the acoustic levels they are not derived from the
    words' LLM embeddings: a linear map from H-dimensional rows can only hit K ≤ H centroids exactly, the
    measured best K is larger (``bench/level0.py``), and nothing downstream reads the vectors — the LLM
    sees only the words' token ids."""

    def __init__(self, num_words: int, embed_dim: int):
        super().__init__()
        self.register_buffer("centroids", torch.zeros(num_words, embed_dim))
        self.register_buffer("mean", torch.zeros(embed_dim))
        self.register_buffer("std", torch.ones(embed_dim))

    @torch.no_grad()
    def fit(self, centroids: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> None:
        """Install ``centroids`` (K, E), which live in the space standardised by ``mean`` and ``std`` (E,)."""
        self.centroids.copy_(centroids)
        self.mean.copy_(mean)
        self.std.copy_(std)

    def encode(self, embeddings: torch.Tensor) -> torch.Tensor:
        """(..., E) → (...) long codes."""
        flat = (embeddings.reshape(-1, embeddings.shape[-1]) - self.mean) / self.std
        return torch.cdist(flat, self.centroids).argmin(dim=-1).reshape(embeddings.shape[:-1])

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(...) codes → (..., E) code vectors (standardised space)."""
        return self.centroids[codes]


class FactorisedQuantizer(nn.Module):
    """One acoustic level: (B, D, T) latent → cosine-nearest code in ``code_dim`` dims → (B, D, T)."""

    def __init__(self, num_rows: int, row_dim: int, latent_dim: int, code_dim: int):
        super().__init__()
        self.codebook = VocabCodebook(num_rows, row_dim, code_dim)
        self.in_proj = nn.Conv1d(latent_dim, code_dim, 1)
        self.out_proj = nn.Conv1d(code_dim, latent_dim, 1)

    def _unit_vectors(self) -> torch.Tensor:
        return F.normalize(self.codebook.vectors(), dim=-1)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Returns (quantised latent (B, D, T), codes (B, T), VQ loss)."""
        e = F.normalize(self.in_proj(z), dim=1)  # (B, d, T)
        book = self._unit_vectors()  # (K, d)
        codes = torch.einsum("bdt,kd->btk", e, book).argmax(dim=-1)  # (B, T)
        q = book[codes].transpose(1, 2)  # (B, d, T)
        loss = F.mse_loss(q, e.detach()) + 0.25 * F.mse_loss(e, q.detach())  # codebook + commitment
        q = e + (q - e).detach()  # straight-through: gradients reach the encoder as if unquantised
        return self.out_proj(q), codes, loss

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        """(B, T) codes → (B, D, T) latent."""
        return self.out_proj(self._unit_vectors()[codes].transpose(1, 2))


class ResidualLevels(nn.Module):
    """Acoustic levels 1..L: each quantises, at its own (coarser) frame rate, what the levels before it missed."""

    def __init__(
        self, strides: tuple[int, ...], rows_per_level: list[int], row_dim: int, latent_dim: int, code_dim: int
    ):
        super().__init__()
        self.strides = strides
        self.levels = nn.ModuleList(FactorisedQuantizer(k, row_dim, latent_dim, code_dim) for k in rows_per_level)

    def forward(self, residual: torch.Tensor, keep: int) -> tuple[torch.Tensor, list[torch.Tensor], torch.Tensor]:
        """Quantise the first ``keep`` levels of ``residual`` (B, D, T): (sum of their outputs, codes, loss)."""
        total = torch.zeros_like(residual)
        codes, loss = [], residual.new_zeros(())
        for quantizer, stride in list(zip(self.levels, self.strides, strict=True))[:keep]:
            z_q, level_codes, level_loss = quantizer(pool(residual, stride))
            z_q = upsample(z_q, stride)
            residual, total = residual - z_q, total + z_q
            codes.append(level_codes)
            loss = loss + level_loss
        return total, codes, loss

    def decode(self, codes: list[torch.Tensor], frames: int, like: torch.Tensor) -> torch.Tensor:
        """Sum of the given levels' latents at ``frames`` mel frames (missing levels add nothing)."""
        total = like.new_zeros(like.shape[0], self.levels[0].out_proj.out_channels, frames)
        for quantizer, stride, level_codes in zip(self.levels, self.strides, codes, strict=False):
            total = total + upsample(quantizer.decode(level_codes), stride)[..., :frames]
        return total
