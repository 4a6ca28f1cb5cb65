"""Convolutional building blocks of the codec's mel encoder and decoder."""

from __future__ import annotations

import torch
from torch import nn


class ResBlock(nn.Module):
    """Dilated residual unit: x + conv1x1(gelu(conv_k,d(gelu(x)))). Keeps (B, C, T)."""

    def __init__(self, channels: int, dilation: int, kernel: int = 5):
        super().__init__()
        self.conv = nn.Conv1d(channels, channels, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2)
        self.mix = nn.Conv1d(channels, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.mix(nn.functional.gelu(self.conv(nn.functional.gelu(x))))


class ConvStack(nn.Module):
    """in_proj → residual blocks (dilations 1, 3, 9, …) → out_proj, at one frame rate: (B, C_in, T) → (B, C_out, T)."""

    def __init__(self, in_channels: int, hidden: int, out_channels: int, blocks: int):
        super().__init__()
        self.in_proj = nn.Conv1d(in_channels, hidden, 7, padding=3)
        self.blocks = nn.Sequential(*(ResBlock(hidden, 3 ** (i % 3)) for i in range(blocks)))
        self.out_proj = nn.Conv1d(hidden, out_channels, 3, padding=1)

    def hidden(self, x: torch.Tensor) -> torch.Tensor:
        """The features before ``out_proj`` (B, hidden, T): the decoder reads its harmonic depth from them."""
        return nn.functional.gelu(self.blocks(self.in_proj(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out_proj(self.hidden(x))


def pool(x: torch.Tensor, stride: int) -> torch.Tensor:
    """(B, C, T) → (B, C, T // stride) by averaging; T must be a multiple of stride."""
    return x if stride == 1 else nn.functional.avg_pool1d(x, stride)


def upsample(x: torch.Tensor, stride: int) -> torch.Tensor:
    """(B, C, T) → (B, C, T * stride) by repetition (the inverse of ``pool`` for a constant signal)."""
    return x if stride == 1 else x.repeat_interleave(stride, dim=-1)
