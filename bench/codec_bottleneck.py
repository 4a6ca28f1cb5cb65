"""What the codec's decoder lacks: the vocoder on true log-mels with their harmonics smoothed away, and with
them drawn back from F0 alone. If the smoothed mel scores like the codec and the comb restores most of the
gap, pitch (not more acoustic bits) is the lever — the case for the codec's pitch level (``model.codec.pitch``).

    python -m bench.codec_bottleneck [--dev dev_set/manifest.json] [--clips 6]

Per clip (the training-time QuickEval's clean real-speech clips): (a) the vocoder on the true log-mel (the
ceiling); (b) on its spectral envelope (the first 20 cepstral coefficients along the mel axis: harmonic ripple
removed, formants kept); (c) on the envelope plus the pitch level's harmonic comb from the clip's own F0 (as
coded at 17.2 Hz, 256 bins), each band's depth fitted by least squares (the best a decoder could do with it).
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from scipy.fft import dct, idct

from bench.provenance import write_result
from model.audio import SAMPLE_RATE, load_audio, resample
from model.codec.mel import LogMel, MelConfig, band_centres
from model.codec.pitch import PitchCoding, decoder_features, frame_pitch

# Session 7's diagnosis on the same 6 clips with the v2 codec at step 9,000 (before the pitch level): the
# continuous latent decodes no better than the codes, so the quantisation is not what blurs the output.
SESSION7_DIAGNOSIS = {
    "true_mel": {"pesq": 2.40, "stoi": 0.891},
    "continuous_latent_no_vq": {"pesq": 1.307, "stoi": 0.701, "log_mel_l1": 0.513},
    "codes_all_levels": {"pesq": 1.307, "stoi": 0.691, "log_mel_l1": 0.517},
    "codes_levels01": {"pesq": 1.201, "stoi": 0.614, "log_mel_l1": 0.615},
    "codes_level0": {"pesq": 1.105, "stoi": 0.492, "log_mel_l1": 1.00},
}


def envelope(mel: np.ndarray, keep: int = 20) -> np.ndarray:
    """(80, T) log-mel → its cepstrally smoothed envelope (first ``keep`` DCT coefficients along the bands)."""
    cepstrum = dct(mel, type=2, norm="ortho", axis=0)
    cepstrum[keep:] = 0
    return idct(cepstrum, type=2, norm="ortho", axis=0)


def with_comb(mel: np.ndarray, smooth: np.ndarray, features: np.ndarray) -> np.ndarray:
    """The envelope plus each band's least-squares depth × the harmonic comb."""
    comb, residual = features[2:], mel - smooth
    depth = (residual * comb).sum(axis=1, keepdims=True) / ((comb**2).sum(axis=1, keepdims=True) + 1e-6)
    return smooth + depth * comb


def main() -> None:
    from pesq import pesq
    from pystoi import stoi

    from model.codec.vocoder import load_hifigan

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dev", type=Path, default=Path("dev_set/manifest.json"))
    parser.add_argument("--clips", type=int, default=6)
    parser.add_argument("--out", type=Path, default=Path("bench_results/codec_bottleneck.json"))
    args = parser.parse_args()
    entries = json.loads(args.dev.read_text())["clips"]
    chosen = [c for c in entries if c["task"] == "enhance" and c["role"] == "clean"][: args.clips]
    config, coding, vocoder = MelConfig(), PitchCoding(stride=5), load_hifigan()
    to_mel, bands = LogMel(config), band_centres(config)
    scores: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for clip in chosen:
        audio = load_audio(args.dev.parent / clip["path"]).samples
        wav = torch.from_numpy(resample(audio, SAMPLE_RATE, config.sample_rate))
        frames = len(wav) // config.hop_length // coding.stride * coding.stride
        mel = to_mel(wav[None])[0, :, :frames].numpy()
        times = (np.arange(frames) * config.hop_length + config.hop_length / 2) / config.sample_rate
        log2_f0, voiced = frame_pitch(audio, SAMPLE_RATE, times)
        features = decoder_features(*coding.decode(coding.encode(log2_f0, voiced)), bands)
        smooth = envelope(mel)
        variants = {"true_mel": mel, "envelope": smooth, "envelope_plus_comb": with_comb(mel, smooth, features)}
        for name, variant in variants.items():
            with torch.inference_mode():
                out = vocoder(torch.from_numpy(variant.astype(np.float32))[None])[0, 0].numpy()
            out = resample(out, config.sample_rate, SAMPLE_RATE)[: len(audio)]
            out = np.pad(out, (0, len(audio) - len(out)))
            with contextlib.suppress(Exception):  # pesq refuses clips without enough speech activity
                scores[name]["pesq"].append(pesq(SAMPLE_RATE, audio, out, "wb"))
            scores[name]["stoi"].append(stoi(audio, out, SAMPLE_RATE))
            scores[name]["log_mel_l1_to_true"].append(float(np.abs(variant - mel).mean()))
    result = {
        "clips": len(chosen),
        "oracle": {k: {m: round(float(np.mean(v)), 3) for m, v in s.items()} for k, s in scores.items()},
        "session7_diagnosis_v2_step9000": SESSION7_DIAGNOSIS,
    }
    write_result(args.out, result, {k: str(v) for k, v in vars(args).items()})
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
