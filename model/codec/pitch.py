"""The codec's pitch level: F0 carried explicitly, so the decoder can draw harmonics instead of their blur.

Session-7 diagnosis (``bench/codec_bottleneck.py``): the continuous latent decodes no better than the codes,
and the decoded mels lack harmonics — nothing tells the decoder where they are. This level says it with a few
bits: one code per ``stride`` mel frames (5 → 17.2 Hz), 0 for unvoiced, else one of ``bins`` log-F0 bins over
50–600 Hz (256 bins: 0.17 semitone each, below what a listener hears). Decoding interpolates the contour back
to the mel frame rate and turns it into decoder features: the voicing, log-F0 and a *harmonic comb* per mel
band, cos(2π f_band / F0) — +1 where a band sits on a harmonic, −1 between two — which the decoder scales
band by band (low bands resolve harmonics, high ones do not: it learns how much each takes).

F0 is Praat's autocorrelation tracker (``parselmouth``), sampled at the mel frames' centres.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

FEATURES_EXTRA = 2  # voicing and log-F0, before the per-band comb


@dataclass(frozen=True)
class PitchCoding:
    """How F0 becomes codes: ``stride`` mel frames per code; code 0 unvoiced, 1..``bins`` log-F0 bins."""

    stride: int = 5
    bins: int = 256
    fmin: float = 50.0
    fmax: float = 600.0

    @property
    def table_size(self) -> int:
        return self.bins + 1

    def _edges(self) -> tuple[float, float]:
        return float(np.log2(self.fmin)), float(np.log2(self.fmax))

    def encode(self, log2_f0: np.ndarray, voiced: np.ndarray) -> np.ndarray:
        """Per mel frame log2-F0 and voicing (T,), T a multiple of ``stride`` → (T / stride,) int64 codes.
        A code is voiced when at least half its frames are; its value is their median log-F0."""
        if len(log2_f0) % self.stride:
            raise ValueError(f"{len(log2_f0)} frames is not a multiple of the pitch stride {self.stride}.")
        groups = log2_f0.reshape(-1, self.stride)
        mask = voiced.reshape(-1, self.stride).astype(bool)
        codes = np.zeros(len(groups), dtype=np.int64)
        low, high = self._edges()
        for i in np.flatnonzero(mask.mean(axis=1) >= 0.5):
            position = (np.median(groups[i][mask[i]]) - low) / (high - low)
            codes[i] = 1 + int(np.clip(np.floor(position * self.bins), 0, self.bins - 1))
        return codes

    def decode(self, codes: np.ndarray, frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(N,) codes → per mel frame (log2-F0, voicing), each (frames,) float32 (default N * stride). Unvoiced
        codes take log-F0 interpolated from their voiced neighbours, so the contour upsamples smoothly."""
        codes = np.asarray(codes, dtype=np.int64)
        frames = len(codes) * self.stride if frames is None else frames
        low, high = self._edges()
        value = low + (codes - 0.5) / self.bins * (high - low)  # bin centres
        is_voiced = codes > 0
        if is_voiced.any() and not is_voiced.all():
            where = np.arange(len(codes))
            value = np.interp(where, where[is_voiced], value[is_voiced])
        elif not is_voiced.any():
            value = np.full(len(codes), 7.5)  # ~180 Hz: never used, voicing is 0 everywhere
        # Linear upsampling between code centres; voicing by nearest code (a frame is voiced or not).
        centres = (np.arange(len(codes)) + 0.5) * self.stride
        at = np.arange(frames) + 0.5
        contour = np.interp(at, centres, value) if len(codes) else np.zeros(frames)
        nearest = np.clip((at // self.stride).astype(np.int64), 0, max(len(codes) - 1, 0))
        voicing = is_voiced[nearest] if len(codes) else np.zeros(frames, dtype=bool)
        return contour.astype(np.float32), voicing.astype(np.float32)


def decoder_features(log2_f0: np.ndarray, voicing: np.ndarray, band_hz: np.ndarray) -> np.ndarray:
    """(T,) contour and voicing → (2 + bands, T) float32: voicing, voicing · (log2-F0 − 7.5), and the
    harmonic comb voicing · cos(2π f_band / F0) per mel band."""
    f0 = np.exp2(log2_f0)
    comb = voicing[None] * np.cos(2 * np.pi * band_hz[:, None] / f0[None])
    return np.concatenate([voicing[None], (voicing * (log2_f0 - 7.5))[None], comb]).astype(np.float32)


def frame_pitch(samples: np.ndarray, sample_rate: int, frame_times: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F0 of ``samples`` at ``frame_times`` (s): (log2-F0, voiced), each (T,). Praat's autocorrelation method,
    50–600 Hz, 5-ms steps; a frame is voiced when its nearest pitch frame is, and takes the log-F0 linearly
    interpolated between voiced pitch frames."""
    import parselmouth

    samples = np.asarray(samples, dtype=np.float64)
    minimum = int(np.ceil(3 / 50.0 * sample_rate))  # Praat needs three periods of the lowest pitch
    padded = np.pad(samples, (0, max(0, minimum - len(samples))))
    track = parselmouth.Sound(padded, sampling_frequency=sample_rate).to_pitch_ac(
        time_step=0.005, pitch_floor=50.0, pitch_ceiling=600.0
    )
    times, hz = track.xs(), track.selected_array["frequency"]
    voiced_track = hz > 0
    if not voiced_track.any():
        return np.full(len(frame_times), 7.5, np.float32), np.zeros(len(frame_times), np.float32)
    nearest = np.clip(np.searchsorted(times, frame_times), 0, len(times) - 1)
    before = np.clip(nearest - 1, 0, len(times) - 1)
    nearest = np.where(np.abs(times[before] - frame_times) < np.abs(times[nearest] - frame_times), before, nearest)
    voiced = voiced_track[nearest] & (frame_times >= times[0] - 0.005) & (frame_times <= times[-1] + 0.005)
    log2_f0 = np.interp(frame_times, times[voiced_track], np.log2(hz[voiced_track]))
    return log2_f0.astype(np.float32), voiced.astype(np.float32)


def batch_features(coding: PitchCoding, codes: torch.Tensor, frames: int, band_hz: np.ndarray) -> torch.Tensor:
    """(B, N) pitch codes → (B, 2 + bands, frames) decoder features."""
    rows = [decoder_features(*coding.decode(row.cpu().numpy(), frames), band_hz) for row in codes]
    return torch.from_numpy(np.stack(rows)).to(codes.device)
