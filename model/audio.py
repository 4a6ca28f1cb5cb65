"""Audio in: any file or array → 16 kHz mono float32 ``Audio``, or a ``ValueError`` that says what to do.

Files are read with soundfile (libsndfile: WAV, FLAC, OGG/Vorbis/Opus, MP3 and more; no ffmpeg, no
torchaudio) and resampled with soxr (a high-quality polyphase resampler). Limits are checked from the
file header before the samples are read, so a huge file is refused without filling memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr

SAMPLE_RATE = 16_000
SUPPORTED = "WAV, FLAC, OGG (Vorbis/Opus) or MP3"
MAX_FLOAT_PEAK = 64.0  # +36 dB over full scale: a loud float mix may exceed ±1, unscaled integers go far beyond


@dataclass(frozen=True)
class AudioLimits:
    """What a clip may be. Defaults suit interactive use; raise ``max_seconds`` for long files."""

    max_seconds: float = 30.0  # longer clips make prompts that do not fit the LLM's context
    min_seconds: float = 0.05  # shorter than one codec frame carries nothing to classify
    max_file_bytes: int = 100 * 2**20
    reject_silence: bool = True  # a silent clip has no content: almost always a wrong file or a muted mic
    silence_peak: float = 1e-4  # about -80 dBFS


@dataclass(frozen=True)
class Audio:
    """A mono clip. ``samples``: (N,) float32, nominally in [-1, 1]."""

    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE
    name: str = "audio"

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    @property
    def peak(self) -> float:
        return float(np.max(np.abs(self.samples))) if len(self.samples) else 0.0


def load_audio(
    source: str | Path | np.ndarray | Audio,
    sample_rate: int | None = None,
    limits: AudioLimits = AudioLimits(),
    name: str | None = None,
) -> Audio:
    """Load a file path or an array as 16 kHz mono float32.

    Arrays need ``sample_rate``; they may be (N,), (N, channels) or (channels, N) and of any int or float
    dtype (ints are scaled to [-1, 1]). Raises ``ValueError`` naming the clip and the fix.
    """
    if isinstance(source, Audio):
        source, sample_rate, name = source.samples, source.sample_rate, name or source.name
    if isinstance(source, np.ndarray):
        if not sample_rate or sample_rate <= 0:
            raise ValueError(f"{name or 'The audio array'}: give its sample rate (a positive number of Hz).")
        label = name or "the recording"
        samples, rate = _as_float(source, label), int(sample_rate)
        _check_duration(len(samples) / rate, label, limits)
    else:
        path = Path(source)
        label = name or path.name
        samples, rate = _read_file(path, label, limits)
    return _finish(samples, rate, label, limits)


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """Band-limited resampling (soxr, high quality); (N,) float32 in, float32 out."""
    if from_rate == to_rate:
        return samples.astype(np.float32, copy=False)
    return soxr.resample(samples.astype(np.float32, copy=False), from_rate, to_rate, quality="HQ").astype(np.float32)


def normalize_peak(audio: Audio, peak: float = 0.95) -> Audio:
    """Scale so the loudest sample is ``peak``; silence is returned unchanged (no division by zero)."""
    current = audio.peak
    if current < 1e-8:
        return audio
    return Audio((audio.samples * (peak / current)).astype(np.float32), audio.sample_rate, audio.name)


def join_with_pauses(pieces: list[np.ndarray], pause_samples: int) -> np.ndarray:
    """The pieces one after another, ``pause_samples`` of silence between each two (float32)."""
    gap = np.zeros(pause_samples, np.float32)
    out: list[np.ndarray] = []
    for i, piece in enumerate(pieces):
        out += [gap, piece] if i else [piece]
    return np.concatenate(out).astype(np.float32)


def save_audio(audio: Audio, path: str | Path) -> Path:
    """Write 16-bit PCM (WAV or FLAC, by the suffix); samples are clipped to [-1, 1]."""
    path = Path(path)
    sf.write(path, np.clip(audio.samples, -1.0, 1.0), audio.sample_rate, subtype="PCM_16")
    return path


def _read_file(path: Path, label: str, limits: AudioLimits) -> tuple[np.ndarray, int]:
    if not path.is_file():
        raise ValueError(f"{label}: no such file ({path}). Check the path.")
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"{label}: the file is empty (0 bytes). Upload or record the clip again.")
    if size > limits.max_file_bytes:
        raise ValueError(
            f"{label}: the file is {size / 2**20:.0f} MB, over the {limits.max_file_bytes / 2**20:.0f} MB "
            "limit. Trim it or save it compressed (FLAC/OGG)."
        )
    _check_wav_complete(path, label, size)
    try:
        info = sf.info(str(path))
        if info.frames <= 0 or info.samplerate <= 0:
            raise ValueError(f"{label}: the file holds no audio samples. Upload a clip with sound in it.")
        _check_duration(info.frames / info.samplerate, label, limits)
        data, rate = sf.read(str(path), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError) as error:
        reason = _short(error).replace(str(path), path.name)  # never show a server's folders to its users
        raise ValueError(
            f"{label}: could not be read as audio ({reason}). Save it as {SUPPORTED}, e.g. `sox input output.wav`."
        ) from error
    return _as_float(data, label), int(rate)


def _check_wav_complete(path: Path, label: str, size: int) -> None:
    """A WAV whose data chunk promises more bytes than the file holds was cut off (a broken upload or copy).
    libsndfile would quietly read the part that is there; say so instead. Streaming writers that leave the
    size unknown (0 or 0xFFFFFFFF) are accepted."""
    with path.open("rb") as f:
        head = f.read(4096)
    if head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        return
    at = 12
    while at + 8 <= len(head):
        chunk, length = head[at : at + 4], int.from_bytes(head[at + 4 : at + 8], "little")
        if chunk == b"data":
            present = size - (at + 8)
            if 0 < length < 0xFFFFFFFF and length > present:
                raise ValueError(
                    f"{label}: the WAV file is cut off ({present:,} of its {length:,} bytes of audio are there). "
                    "Upload or copy the file again."
                )
            return
        at += 8 + length + (length & 1)


def _as_float(array: np.ndarray, label: str) -> np.ndarray:
    """(N,) float32 mono from any supported layout and dtype."""
    array = np.asarray(array)
    if array.ndim == 2:
        # Channels are the short axis: (N, C) from soundfile/gradio, (C, N) from most DSP code.
        array = array if array.shape[0] >= array.shape[1] else array.T
    elif array.ndim != 1:
        raise ValueError(f"{label}: expected a 1-D or 2-D array of samples, got shape {array.shape}.")
    if array.dtype.kind in "iu":
        info = np.iinfo(array.dtype)
        scale = (float(info.max) - float(info.min) + 1) / 2
        array = (array.astype(np.float64) - (info.min + scale)) / scale  # also centres unsigned 8-bit
    elif array.dtype.kind != "f":
        raise ValueError(f"{label}: samples must be numbers, got dtype {array.dtype}.")
    if array.size == 0:
        return np.zeros(0, np.float32)
    if not np.isfinite(array).all():
        raise ValueError(
            f"{label}: the clip contains NaN or infinite samples (a broken float file). Re-export it as 16-bit PCM."
        )
    if array.dtype.kind == "f" and (peak := float(np.max(np.abs(array)))) > MAX_FLOAT_PEAK:
        raise ValueError(
            f"{label}: float samples reach {peak:.3g}, far beyond full scale (±1): they look unscaled (e.g. 16-bit "
            "values stored as floats). Divide by 32768, or save the clip as 16-bit PCM."
        )
    # Mix down in float64: channels of float32 extremes must not overflow on the way.
    return (array.mean(axis=1, dtype=np.float64) if array.ndim == 2 else array).astype(np.float32)


def _check_duration(seconds: float, label: str, limits: AudioLimits) -> None:
    if seconds <= 0:
        raise ValueError(f"{label}: the clip has no samples. Upload or record a clip with sound in it.")
    if seconds > limits.max_seconds:
        raise ValueError(
            f"{label}: the clip is {seconds:.1f} s long, over the {limits.max_seconds:g} s limit. "
            "Trim it to the part that matters."
        )
    if seconds < limits.min_seconds:
        raise ValueError(
            f"{label}: the clip is only {seconds * 1000:.0f} ms long; at least "
            f"{limits.min_seconds * 1000:.0f} ms is needed. Upload a longer clip."
        )


def _finish(samples: np.ndarray, rate: int, label: str, limits: AudioLimits) -> Audio:
    if samples.size == 0:
        raise ValueError(f"{label}: the clip has no samples. Upload or record a clip with sound in it.")
    if not np.isfinite(samples).all():
        raise ValueError(
            f"{label}: the clip contains NaN or infinite samples (a broken float file). Re-export it as 16-bit PCM."
        )
    samples = resample(samples, rate, SAMPLE_RATE)
    audio = Audio(samples, SAMPLE_RATE, label)
    if limits.reject_silence and audio.peak < limits.silence_peak:
        raise ValueError(f"{label}: the clip is silent (peak below -80 dBFS). Check the file or the microphone.")
    if limits.reject_silence and float(np.ptp(audio.samples)) < 2 * limits.silence_peak:
        raise ValueError(
            f"{label}: the clip is a constant level (DC offset) with no sound in it. Check the file or the microphone."
        )
    return audio


def _short(error: Exception) -> str:
    return str(error).strip().splitlines()[0][:160] if str(error).strip() else type(error).__name__
