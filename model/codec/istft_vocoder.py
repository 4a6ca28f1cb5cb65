"""A light vocoder: ConvNeXt blocks at the mel frame rate predict each frame's complex spectrum, and one inverse
STFT turns it into the waveform (the design of Vocos, Siuzdak 2023; written here, since the ``vocos`` package
needs torchaudio). All the network's work happens at 86 frames a second instead of HiFi-GAN's 22,050 samples,
so it decodes ~60× faster than HiFi-GAN on a CPU (``bench.decode_speed``). It is trained on the codec's decoded
mels by ``model.codec.vocoder_distill`` (fitted to the recordings, or distilled from the tuned HiFi-GAN; the
multi-resolution STFT magnitudes constrain the phase enough without GAN losses — the model card has the runs).

Same interface as the HiFi-GAN generator: log-mel (B, 80, T) → waveform (B, 1, T · hop) at the mel's rate, with
the HiFi-GAN framing (frame t describes samples centred on t · hop + hop / 2).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from torch import nn

from model.codec.stored_decoder import INT8_MIN_SIZE, pack_decoder, split_decoder
from model.int8_rows import from_int8_rows, to_int8_rows

WEIGHTS_NAME = "istft_vocoder.safetensors"  # beside a codec checkpoint; config in its metadata


@dataclass(frozen=True)
class ISTFTVocoderConfig:
    n_mels: int = 80
    channels: int = 256
    hidden: int = 768  # the pointwise layers' width inside each block
    blocks: int = 8
    kernel: int = 7  # depthwise convolution over frames; 8 blocks see ±24 frames (±0.28 s)
    n_fft: int = 1024
    hop: int = 256
    max_log_magnitude: float = 4.6  # exp(4.6) ≈ 100: Vocos's clip, keeps early training from exploding

    @classmethod
    def from_json(cls, text: str) -> ISTFTVocoderConfig:
        return cls(**json.loads(text))

    def to_json(self) -> str:
        return json.dumps(asdict(self))


class ConvNeXtBlock(nn.Module):
    """Depthwise conv over time → LayerNorm → pointwise MLP (GELU) → learned per-channel scale, residual."""

    def __init__(self, channels: int, hidden: int, kernel: int):
        super().__init__()
        self.depthwise = nn.Conv1d(channels, channels, kernel, padding=kernel // 2, groups=channels)
        self.norm = nn.LayerNorm(channels)
        self.expand = nn.Linear(channels, hidden)
        self.contract = nn.Linear(hidden, channels)
        self.scale = nn.Parameter(torch.full((channels,), 1e-2))  # blocks start near identity

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (B, C, T)
        y = self.depthwise(x).transpose(1, 2)
        y = self.contract(nn.functional.gelu(self.expand(self.norm(y))))
        return x + (self.scale * y).transpose(1, 2)


class ISTFTVocoder(nn.Module):
    def __init__(self, config: ISTFTVocoderConfig = ISTFTVocoderConfig()):
        super().__init__()
        self.config = config
        self.embed = nn.Conv1d(config.n_mels, config.channels, config.kernel, padding=config.kernel // 2)
        self.embed_norm = nn.LayerNorm(config.channels)
        self.blocks = nn.ModuleList(
            ConvNeXtBlock(config.channels, config.hidden, config.kernel) for _ in range(config.blocks)
        )
        self.out_norm = nn.LayerNorm(config.channels)
        self.head = nn.Linear(config.channels, config.n_fft + 2)  # log magnitude and phase of n_fft / 2 + 1 bins
        self.register_buffer("window", torch.hann_window(config.n_fft), persistent=False)

    def spectrum(self, mel: torch.Tensor) -> torch.Tensor:
        """(B, n_mels, T) → (B, n_fft / 2 + 1, T) complex spectrum, float32."""
        x = self.embed_norm(self.embed(mel).transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        log_magnitude, phase = self.head(self.out_norm(x.transpose(1, 2))).float().transpose(1, 2).chunk(2, dim=1)
        magnitude = torch.exp(log_magnitude.clamp(max=self.config.max_log_magnitude))
        return torch.polar(magnitude, phase)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        c = self.config
        spectrum = self.spectrum(mel)
        frames = spectrum.shape[-1]
        # torch.istft centres frame t on sample t · hop; the mel's frame t is centred half a hop later.
        wav = torch.istft(spectrum, c.n_fft, c.hop, c.n_fft, self.window.float(), center=True, length=frames * c.hop)
        wav = nn.functional.pad(wav, (c.hop // 2, 0))[:, : frames * c.hop]
        return wav[:, None].to(mel.dtype)


def save_istft_vocoder(
    vocoder: ISTFTVocoder,
    path: Path,
    metadata: dict[str, str] | None = None,
    decoder: dict[str, torch.Tensor] | None = None,
) -> Path:
    """Weight matrices and convolutions as int8 rows (``model.int8_rows``; 3.6 MB instead of 7.2 in float16: the
    tracked tree must leave the GPU kit room under the device tool's 64 MiB), the rest in float16; the config in
    the file's metadata. ``decoder``: the codec's mel decoder trained with this vocoder (stored the same way,
    ``model.codec.stored_decoder``)."""
    from safetensors.torch import save_file

    tensors = to_int8_rows(vocoder.state_dict(), min_size=INT8_MIN_SIZE) | pack_decoder(decoder or {})
    save_file(tensors, path, metadata={"config": vocoder.config.to_json(), **(metadata or {})})
    return path


def load_istft_vocoder(path: Path) -> ISTFTVocoder:
    """The vocoder in ``path`` in eval mode, float32, gradients off."""
    vocoder_state, _ = _load_parts(path)
    vocoder = ISTFTVocoder(ISTFTVocoderConfig.from_json(_config_text(path)))
    vocoder.load_state_dict(vocoder_state)
    return vocoder.eval().requires_grad_(False)


def load_istft_decoder(path: Path) -> dict[str, torch.Tensor]:
    """The codec mel-decoder weights trained with the vocoder in ``path`` (float32, under the codec's names), or
    {} when it was trained for the codec's own decoder."""
    return _load_parts(path)[1]


def _config_text(path: Path) -> str:
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} does not exist: train and export a light vocoder (model.codec.vocoder_distill).")
    with safe_open(path, framework="pt") as handle:
        config_text = (handle.metadata() or {}).get("config")
    if config_text is None:
        raise ValueError(f"{path} is not a light-vocoder file (its metadata has no config).")
    return config_text


def _load_parts(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, torch.Tensor]]:
    """(the vocoder's state, the mel decoder's state) from a light-vocoder file, float32."""
    from safetensors.torch import load_file

    _config_text(path)
    vocoder, decoder = split_decoder(load_file(path))
    return from_int8_rows(vocoder), decoder
