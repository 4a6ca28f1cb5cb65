"""A copy of the codec's mel decoder trained end to end through a vocoder (``model.codec.vocoder_distill
--joint``) travels in that vocoder's file, under the codec's own names with a prefix, in int8 rows; ``load_codec``
puts it in place of the codec's own decoder. Both vocoder files (the light one and the tuned HiFi-GAN) store it so."""

from __future__ import annotations

import torch

from model.int8_rows import from_int8_rows, to_int8_rows

DECODER_PREFIX = "codec."
INT8_MIN_SIZE = 4096  # smaller tensors (norms, biases, the depthwise kernels) stay float16


def pack_decoder(decoder: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The decoder's state as tensors for a vocoder's file: int8 rows, names prefixed."""
    return {DECODER_PREFIX + k: v for k, v in to_int8_rows(decoder, min_size=INT8_MIN_SIZE).items()}


def split_decoder(stored: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """A vocoder file's tensors → (the vocoder's own tensors as stored, the decoder's float32 state under the
    codec's names; {} when the file has none)."""
    decoder = {k.removeprefix(DECODER_PREFIX): v for k, v in stored.items() if k.startswith(DECODER_PREFIX)}
    return {k: v for k, v in stored.items() if not k.startswith(DECODER_PREFIX)}, from_int8_rows(decoder)
