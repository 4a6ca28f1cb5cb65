"""The LLM-vocabulary codec: 16 kHz audio ↔ multi-scale codes that are LLM tokens.

    audio ─┬─ semantic encoder (12.5 Hz) ──► level 0: nearest of K *word* codes ──────────────┐
           └─ log-mel (86 Hz) ─► encoder ─► residual ─► levels 1.. (21.5 Hz, 43 Hz, …):        │
                                             sub-word codes, each on what the levels before missed │
    decode: level latents summed at 86 Hz ─► decoder ─► log-mel ─► frozen HiFi-GAN ─► 16 kHz ◄──┘

Codebooks are frozen LLM embedding rows seen through learned maps (``quantizer.py``). A checkpoint stores the
resulting code vectors, which table rows and LLM token ids each level uses, and the tables' hash: it loads
without any LLM, and the pipeline checks the binding when it joins codec and LLM (``model.vocab``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from model.audio import SAMPLE_RATE, Audio, resample
from model.codec.codes import Codes
from model.codec.layers import ConvStack
from model.codec.mel import LogMel, MelConfig, band_centres
from model.codec.pitch import PitchCoding, batch_features, decoder_features, frame_pitch
from model.codec.quantizer import ResidualLevels, SemanticQuantizer

CONFIG_NAME, WEIGHTS_NAME = "config.json", "model.safetensors"


@dataclass
class CodecConfig:
    """Sizes, rates and the vocabulary binding of a codec. Derived rates are properties, never stored."""

    lm: str = "qwen2.5-coder-0.5b"  # whose embedding rows are the codebooks (codes map by string to other LMs)
    tables_hash: str = ""  # VocabTables.hash at training time
    level_rows: list[list[int]] = field(default_factory=list)  # per level: rows of its table (level 0: words)
    level_token_ids: list[list[int]] = field(default_factory=list)  # the same rows as ``lm`` token ids
    row_dim: int = 896  # the LLM's embedding size
    semantic: str = "openwakeword"  # level 0's frozen encoder: "openwakeword" (v1) or "whisper-base" (v2)
    semantic_layer: int = 5  # Whisper block whose output level 0 quantises (middle blocks: content, not voice)
    semantic_hop: int = 1280  # samples per level-0 code at 16 kHz (1280: 12.5 Hz)
    semantic_dim: int = 96  # the semantic encoder's feature size (openwakeword 96, Whisper base 512)
    strides: tuple[int, ...] = (4, 2)  # mel frames per code, levels 1.. (86.1 Hz / 4 = 21.5 Hz, / 2 = 43.1 Hz)
    latent_dim: int = 192
    hidden: int = 192
    encoder_blocks: int = 6
    decoder_blocks: int = 8
    code_dim: int = 8  # factorised-code dimension: small enough that every row stays in use
    mel_hop: int = 256  # the vocoder's framing at ``mel_rate``
    mel_rate: int = 22_050
    pitch_stride: int = 0  # mel frames per pitch code, the last level (0: no pitch level, as in v1)
    pitch_bins: int = 256

    @property
    def pitch(self) -> PitchCoding | None:
        return PitchCoding(self.pitch_stride, self.pitch_bins) if self.pitch_stride else None

    @property
    def num_levels(self) -> int:
        return 1 + len(self.strides) + (1 if self.pitch_stride else 0)

    @property
    def pitch_level(self) -> int | None:
        """The pitch level's index (the last one), or None."""
        return self.num_levels - 1 if self.pitch_stride else None

    @property
    def mel_frame_rate(self) -> float:
        return self.mel_rate / self.mel_hop

    @property
    def frame_rates(self) -> list[float]:
        """Codes per second, per level."""
        strides = [*self.strides, self.pitch_stride] if self.pitch_stride else list(self.strides)
        return [SAMPLE_RATE / self.semantic_hop] + [self.mel_frame_rate / s for s in strides]

    @property
    def tokens_per_second(self) -> float:
        return sum(self.frame_rates)

    @property
    def bitrate(self) -> float:
        """Bits per second if each code is sent as log2(table size) bits."""
        return sum(rate * math.log2(len(rows)) for rate, rows in zip(self.frame_rates, self.level_rows, strict=True))

    @property
    def frame_multiple(self) -> int:
        """Mel frames are padded to a multiple of this, so every level's stride divides them."""
        return math.lcm(*self.strides, self.pitch_stride or 1)

    def make_semantic(self) -> Callable[[np.ndarray], np.ndarray]:
        """The frozen semantic encoder this config names (loads its weights lazily, on first use)."""
        from model.codec.semantic import SpeechEmbedder, WhisperFeatures

        if self.semantic == "openwakeword":
            return SpeechEmbedder()
        if self.semantic == "whisper-base":
            return WhisperFeatures(self.semantic_layer, self.semantic_hop)
        raise ValueError(f"Unknown semantic encoder {self.semantic!r}: use 'openwakeword' or 'whisper-base'.")

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1))

    @classmethod
    def load(cls, path: Path) -> CodecConfig:
        return cls.from_dict(json.loads(path.read_text()))

    @classmethod
    def from_dict(cls, data: dict) -> CodecConfig:
        data = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**data | {"strides": tuple(data.get("strides", cls.strides))})


DECODER_PARTS = ("decoder", "pitch_in", "harmonic_depth")  # the mel decoder's modules (the last two with pitch)


class LLMCodec(nn.Module):
    """Encoder, quantisers and decoder. ``semantic`` (audio → (T0, E) embeddings) and ``vocoder``
    (log-mel (B, 80, T) → waveform (B, 1, T * hop)) are injected: the real ones are frozen pretrained models."""

    def __init__(self, config: CodecConfig, semantic: Callable[[np.ndarray], np.ndarray], vocoder: nn.Module):
        super().__init__()
        self.config = config
        self.semantic = semantic
        self.vocoder = vocoder.eval().requires_grad_(False)
        self.mel = LogMel(MelConfig(sample_rate=config.mel_rate, hop_length=config.mel_hop))
        n_mels = self.mel.config.n_mels
        self.encoder = ConvStack(n_mels, config.hidden, config.latent_dim, config.encoder_blocks)
        self.level0 = SemanticQuantizer(len(config.level_rows[0]), config.semantic_dim)
        self.level0_embed = nn.Linear(config.semantic_dim, config.latent_dim)
        self.levels = ResidualLevels(
            config.strides,
            [len(r) for r in config.level_rows[1 : 1 + len(config.strides)]],
            config.row_dim,
            config.latent_dim,
            config.code_dim,
        )
        self.decoder = ConvStack(config.latent_dim, config.hidden, n_mels, config.decoder_blocks)
        if config.pitch:  # registered last, and zero: a codec grown a pitch level starts out decoding as before
            self.band_hz = band_centres(self.mel.config)
            self.pitch_in = nn.Conv1d(2 + n_mels, config.latent_dim, 1)
            self.harmonic_depth = nn.Conv1d(config.hidden, n_mels, 1)
            for layer in (self.pitch_in, self.harmonic_depth):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)

    @classmethod
    def from_pretrained(cls, folder: str | Path, device: str | torch.device = "cpu", **overrides) -> LLMCodec:
        """Load a checkpoint folder (see ``codec_io.load_codec`` for what can be injected)."""
        from model.codec.io import load_codec

        return load_codec(folder, device=device, **overrides)

    def save_pretrained(self, folder: str | Path) -> Path:
        from model.codec.io import save_codec

        return save_codec(self, folder)

    def to(self, *args, **kwargs) -> LLMCodec:
        """``nn.Module.to``, and the semantic encoder too when it can move (it is not a submodule: it is frozen,
        never saved, and may be an ONNX model that stays on the CPU)."""
        super().to(*args, **kwargs)
        if hasattr(self.semantic, "to"):
            self.semantic.to(self.mel.filters.device)
        return self

    # --- codebooks -------------------------------------------------------------------------------------------
    def codebooks(self) -> list:
        """The acoustic levels' ``VocabCodebook``s (levels 1..; level 0 holds k-means centroids)."""
        return [quantizer.codebook for quantizer in self.levels.levels]

    def set_codebook_rows(self, rows_per_level: list[torch.Tensor]) -> None:
        """Install the LLM embedding rows (K_i, H) of levels 1.. (training only: a loaded codec has the vectors)."""
        for codebook, rows in zip(self.codebooks(), rows_per_level, strict=True):
            codebook.set_rows(rows)

    # --- framing ----------------------------------------------------------------------------------------------
    def mel_frames(self, num_samples: int) -> int:
        """Mel frames for a clip of ``num_samples`` at 16 kHz, rounded up to the frame multiple."""
        at_mel_rate = math.ceil(num_samples * self.config.mel_rate / SAMPLE_RATE)
        multiple = self.config.frame_multiple * self.config.mel_hop
        return math.ceil(at_mel_rate / multiple) * multiple // self.config.mel_hop

    def level0_index(self, frames: int, level0_frames: int) -> torch.Tensor:
        """(frames,) which level-0 code covers each mel frame (12.5 Hz vs 86.1 Hz: aligned by time)."""
        seconds = (torch.arange(frames) + 0.5) / self.config.mel_frame_rate
        return (seconds * self.config.frame_rates[0]).long().clamp(max=level0_frames - 1)

    def log_mel(self, samples: np.ndarray) -> torch.Tensor:
        """(N,) 16 kHz → (1, 80, frames) log-mel, zero-padded to whole frames."""
        wav = torch.from_numpy(resample(samples, SAMPLE_RATE, self.config.mel_rate))
        wav = nn.functional.pad(wav, (0, self.mel_frames(len(samples)) * self.config.mel_hop - len(wav)))
        return self.mel(wav[None].to(self.mel.filters.device))

    # --- training forward -------------------------------------------------------------------------------------
    def forward(
        self, mel: torch.Tensor, level0_codes: torch.Tensor, keep: int, pitch: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Training path. mel (B, 80, T), level0_codes (B, T) per mel frame, ``keep`` acoustic levels, and
        the pitch level's decoder features (B, 82, T) or None. Returns (reconstructed mel (B, 80, T), VQ loss)."""
        coarse = self.level0_embed(self.level0.decode(level0_codes)).transpose(1, 2)  # (B, D, T)
        fine, _, vq_loss = self.levels(self.encoder(mel) - coarse, keep)
        return decode_latent(self, coarse + fine, pitch), vq_loss

    def decoder_inputs(self, levels: list[torch.Tensor], frames: int) -> tuple[torch.Tensor, torch.Tensor | None]:
        """What the mel decoder reads from level codes (level 0 first; finer levels optional; pitch, when the
        codec has it, only with every acoustic level before it): the summed level latents (1, D, frames) and
        the pitch features (1, 82, frames) or None."""
        coarse = self._coarse(levels[0], frames)
        acoustic = levels[1 : 1 + len(self.config.strides)]
        fine = self.levels.decode([c[None] for c in acoustic], frames, coarse)
        pitch = None
        if self.config.pitch_level is not None and len(levels) > self.config.pitch_level:
            codes = levels[self.config.pitch_level][None]
            pitch = batch_features(self.config.pitch, codes, frames, self.band_hz).to(coarse.dtype)
        return coarse + fine, pitch

    # --- inference -------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def encode(self, audio: Audio) -> Codes:
        """16 kHz ``Audio`` → ``Codes`` with one code tensor per level (rows of each level's table)."""
        device = self.mel.filters.device
        embeddings = torch.from_numpy(self.semantic(audio.samples)).to(device)  # (T0, E)
        level0 = self.level0.encode(embeddings)
        mel = self.log_mel(audio.samples)
        coarse = self._coarse(level0, mel.shape[-1])
        _, codes, _ = self.levels(self.encoder(mel) - coarse, keep=len(self.config.strides))
        levels = [level0] + [c[0] for c in codes]
        if self.config.pitch:
            levels.append(torch.from_numpy(self.pitch_codes(audio.samples, mel.shape[-1])))
        return self._to_codes(levels, len(audio.samples))

    def frame_times(self, frames: int) -> np.ndarray:
        """(frames,) seconds at the centre of each mel frame (HiFi-GAN's framing: hop · i + hop / 2)."""
        return (np.arange(frames) * self.config.mel_hop + self.config.mel_hop / 2) / self.config.mel_rate

    def pitch_features(self, log2_f0: np.ndarray, voiced: np.ndarray) -> torch.Tensor:
        """Per mel frame F0 (T,) → (82, T) decoder features of what the pitch level's codes keep of it."""
        coding = self.config.pitch
        return torch.from_numpy(decoder_features(*coding.decode(coding.encode(log2_f0, voiced)), self.band_hz))

    def pitch_codes(self, samples: np.ndarray, frames: int) -> np.ndarray:
        """(frames / pitch_stride,) pitch-level codes (quantiser indices) of a 16-kHz clip."""
        log2_f0, voiced = frame_pitch(samples, SAMPLE_RATE, self.frame_times(frames))
        return self.config.pitch.encode(log2_f0, voiced)

    @torch.inference_mode()
    def decode(self, codes: Codes) -> Audio:
        """``Codes`` (any number of leading levels, ≥ 1) → 16 kHz ``Audio``."""
        device = self.mel.filters.device
        levels = [torch.as_tensor(c, dtype=torch.long, device=device) for c in self._from_codes(codes)]
        frames = self._frames_of(codes)
        samples = resample(self.vocode(self.decoder_mel(levels, frames)), self.config.mel_rate, SAMPLE_RATE)
        length = codes.num_samples or len(samples)
        samples = np.pad(samples, (0, max(0, length - len(samples))))[:length]
        return Audio(samples.astype(np.float32), SAMPLE_RATE, "reconstruction")

    @torch.inference_mode()
    def vocode(self, mel: torch.Tensor) -> np.ndarray:
        """(1, 80, T) log-mel → (T · hop,) float32 waveform at ``mel_rate``, in whatever dtype the vocoder holds
        (``load_codec`` puts the real one in bfloat16 where the CPU multiplies it natively)."""
        dtype = next(self.vocoder.parameters()).dtype
        return self.vocoder(mel.to(dtype))[0, 0].float().cpu().numpy()

    def decoder_mel(self, levels: list[torch.Tensor], frames: int) -> torch.Tensor:
        """(1, 80, frames) log-mel from level codes (see ``decoder_inputs``)."""
        return decode_latent(self, *self.decoder_inputs(levels, frames))

    def _coarse(self, level0: torch.Tensor, frames: int) -> torch.Tensor:
        per_frame = level0[self.level0_index(frames, len(level0)).to(level0.device)]
        return self.level0_embed(self.level0.decode(per_frame)).T[None]  # (1, D, frames)

    def _frames_of(self, codes: Codes) -> int:
        if codes.num_samples:
            return self.mel_frames(codes.num_samples)
        if codes.num_levels > 1:
            return codes.lengths()[1] * self.config.strides[0]
        return self.mel_frames(codes.lengths()[0] * self.config.semantic_hop)

    def _to_codes(self, levels: list[torch.Tensor], num_samples: int) -> Codes:
        """Quantiser indices → rows of each level's table."""
        rows = [torch.tensor(r, dtype=torch.long) for r in self.config.level_rows]
        return Codes(tuple(rows[i][c.cpu()] for i, c in enumerate(levels)), num_samples)

    def _from_codes(self, codes: Codes) -> list[torch.Tensor]:
        """Rows of each level's table → quantiser indices; a row the codec does not use raises ``ValueError``."""
        out = []
        for level, table_rows in enumerate(codes.levels):
            rows = torch.tensor(self.config.level_rows[level], dtype=torch.long)
            lookup = torch.full((int(rows.max()) + 1,), -1, dtype=torch.long)
            lookup[rows] = torch.arange(len(rows))
            inside = (table_rows >= 0) & (table_rows < len(lookup))
            index = torch.where(inside, lookup[table_rows.clamp(0, len(lookup) - 1)], -1)
            if (index < 0).any():
                raise ValueError(
                    f"Level {level} holds codes this codec does not use ({table_rows[index < 0][:3].tolist()})."
                )
            out.append(index)
        return out


def decode_latent(parts: nn.Module, latent: torch.Tensor, pitch: torch.Tensor | None) -> torch.Tensor:
    """(B, D, T) summed level latents (+ pitch features (B, 82, T)) → (B, 80, T) log-mel, by ``parts``' mel
    decoder (``decoder``, and with pitch ``pitch_in`` and ``harmonic_depth``: an ``LLMCodec``, or the copy of
    them ``model.codec.vocoder_distill --joint`` trains). Pitch enters twice: as input, and as the harmonic comb
    scaled per band and frame by what the decoder has made of everything else."""
    if pitch is None:
        return parts.decoder(latent)
    hidden = parts.decoder.hidden(latent + parts.pitch_in(pitch))
    return parts.decoder.out_proj(hidden) + parts.harmonic_depth(hidden) * pitch[:, 2:]
