"""Codec benchmark on the development set (never used for training): quality (PESQ-wb, STOI, DNSMOS OVRL),
rates, usage, token consistency across voices, intelligibility (Whisper base on spoken TTS digits, raw and
resynthesised, and on real recorded English words: heard as the recording is) and speed. Prints a table and writes JSON.

    python -m bench.codec [--checkpoint checkpoints/codec] [--dev dev_set/manifest.json] [--vocoder istft]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import timeit
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch

from bench.episodes import load_clips, sample_episodes
from bench.provenance import write_result
from model.audio import load_audio, resample
from model.codec.io import VOCODERS
from model.codec.model import LLMCodec

CATEGORIES = {
    "real speech": ("enhance", "clean"),
    "real speech (words)": ("language", ""),
    "TTS speech": ("commands", ""),
    "sound effects": ("sounds", ""),
}


def log_mel_distance(codec: LLMCodec, reference: np.ndarray, estimate: np.ndarray) -> float:
    a, b = codec.log_mel(reference), codec.log_mel(estimate)
    return float((a - b).abs().mean())


def quality(codec: LLMCodec, clips: list[dict], limit: int) -> dict:
    from pesq import pesq
    from pystoi import stoi

    scores = defaultdict(list)
    for clip in clips[:limit]:
        audio = load_audio(clip["path"])
        codes = codec.encode(audio)
        every = codec.config.num_levels  # "all levels" includes the pitch level of a codec that has one
        for levels, key in ((every, ""), (1, "_level0"), (2, "_levels01")):
            if levels < every and key and len(scores["pesq" + key]) >= 10:
                continue
            out = codec.decode(codes.upto(levels - 1)).samples
            # pesq refuses clips without enough speech activity: those clips have no PESQ
            with contextlib.suppress(Exception):
                scores["pesq" + key].append(pesq(16_000, audio.samples, out, "wb"))
            if key != "_level0":
                scores["stoi" + key].append(stoi(audio.samples, out, 16_000))
            if key == "":
                scores["log_mel_l1"].append(log_mel_distance(codec, audio.samples, out))
                scores["dnsmos"].append(dnsmos(out))
    return {k: round(float(np.mean(v)), 3) for k, v in scores.items() if v} | {"clips": min(limit, len(clips))}


def dnsmos(samples: np.ndarray) -> float:
    """DNSMOS P.835 overall quality (no reference: how natural the clip sounds, 1–5)."""
    from speechmos import dnsmos as model

    return float(model.run(np.clip(samples, -1, 1).astype(np.float32), 16_000)["ovrl_mos"])


def vocoder_ceiling(codec: LLMCodec, clips: list[dict], limit: int, vocoder: torch.nn.Module) -> dict:
    """The universal HiFi-GAN (float32, not the codec's fine-tuned one) on the clip's own log-mel, no codec: the
    best a mel-domain codec with this vocoder design could reach."""
    from pesq import pesq
    from pystoi import stoi

    scores = defaultdict(list)
    for clip in clips[:limit]:
        audio = load_audio(clip["path"])
        with torch.inference_mode():
            wav = vocoder(codec.log_mel(audio.samples))[0, 0].numpy()
        out = resample(wav, codec.config.mel_rate, 16_000)[: len(audio.samples)]
        out = np.pad(out, (0, len(audio.samples) - len(out)))
        with contextlib.suppress(Exception):
            scores["pesq"].append(pesq(16_000, audio.samples, out, "wb"))
        scores["stoi"].append(stoi(audio.samples, out, 16_000))
        scores["dnsmos"].append(dnsmos(out))
        scores["dnsmos_raw"].append(dnsmos(audio.samples))
    return {k: round(float(np.mean(v)), 3) for k, v in scores.items() if v}


def usage(codec: LLMCodec, clips: list[dict]) -> list[float]:
    used = [set() for _ in codec.config.level_rows]
    for clip in clips:
        for level, codes in enumerate(codec.encode(load_audio(clip["path"])).levels):
            used[level].update(codes.tolist())
    return [round(len(u) / len(rows), 3) for u, rows in zip(used, codec.config.level_rows, strict=True)]


def token_overlap_nn(codec: LLMCodec, clips: list[dict], n_way: int, episodes: int, seed: int) -> float:
    """1-shot nearest neighbour on level-0 token-set overlap (Jaccard), support and query from other voices."""
    tokens = {c["path"]: set(codec.encode(load_audio(c["path"])).levels[0].tolist()) for c in clips}
    correct = 0
    sampled = sample_episodes(clips, n_way, 1, episodes, seed)
    for episode in sampled:
        query = tokens[episode.query[0]]
        sims = [len(query & tokens[p]) / max(1, len(query | tokens[p])) for p, _ in episode.support]
        correct += episode.support[int(np.argmax(sims))][1] == episode.query[1]
    return round(correct / len(sampled), 3)


def _said(transcribe, samples: np.ndarray) -> str:
    """Whisper's transcript as normalised words ("Thank you." → "thank you")."""
    from model.icl.pipeline import normalise_text

    return " ".join(normalise_text(transcribe(samples)))


def _heard_after_codec(codec: LLMCodec, transcribe, audio) -> dict[str, str]:
    """What Whisper hears in the codec's resynthesis of ``audio``: with every level, and with levels 0–1."""
    codes = codec.encode(audio)
    return {
        "codec": _said(transcribe, codec.decode(codes).samples),
        "codec_levels01": _said(transcribe, codec.decode(codes.upto(1)).samples),
    }


def digit_wer(codec: LLMCodec, clips: list[dict], per_digit: int) -> dict:
    """Whisper base (English) on spoken digits: the raw clips and the codec's resynthesis (all levels, levels
    0–1), corpus WER and how many clips it heard exactly; the first ``per_digit`` voices of each digit. Whisper
    base mishears or hallucinates on many isolated TTS words ("Thank you very much." for "zero"), so the fair
    measure of the codec is ``kept``: of the clips heard right raw, how many are still heard right after it."""
    import jiwer

    from model.icl.pipeline import DIGIT_WORDS
    from model.speech.transcribe import Transcriber

    transcribe = Transcriber()
    chosen = [clip for digit in DIGIT_WORDS.values() for clip in [c for c in clips if c["label"] == digit][:per_digit]]
    heard = defaultdict(list)
    for clip in chosen:
        audio = load_audio(clip["path"])
        heard["raw"].append(_said(transcribe, audio.samples))
        for name, words in _heard_after_codec(codec, transcribe, audio).items():
            heard[name].append(words)
    references = [clip["label"] for clip in chosen]
    raw_right = [h == r for h, r in zip(heard["raw"], references, strict=True)]
    result = {"clips": len(chosen), "levels_all": codec.config.num_levels}
    for name, hypotheses in heard.items():
        right = [h == r for h, r in zip(hypotheses, references, strict=True)]
        result[name] = {
            "wer": round(float(jiwer.wer(references, [h or "<empty>" for h in hypotheses])), 3),
            "exact": sum(right),
            "kept": sum(a and b for a, b in zip(raw_right, right, strict=True)),
        }
    result["heard"] = [
        {"path": clip["path"], "label": clip["label"]} | {name: h[i] for name, h in heard.items()}
        for i, clip in enumerate(chosen)
    ]
    return result


def real_words(codec: LLMCodec, clips: list[dict]) -> dict:
    """Whisper base on real recorded English words (the development set's ktuberling voice): does it hear the
    codec's resynthesis (all levels, levels 0–1) as it hears the recording? The recording's own transcript is the
    reference (the file names spell some words oddly, "palmtree"), so this measures what the codec keeps of what
    a listener makes of real speech, where TTS digits (``digit_wer``) mostly measure Whisper's hallucinations."""
    import jiwer

    from model.speech.transcribe import Transcriber

    transcribe = Transcriber()
    heard = defaultdict(list)
    for clip in clips:
        audio = load_audio(clip["path"])
        raw = _said(transcribe, audio.samples)
        if not raw:
            continue
        heard["path"].append(clip["path"])
        heard["raw"].append(raw)
        for name, words in _heard_after_codec(codec, transcribe, audio).items():
            heard[name].append(words)
    result = {"clips": len(heard["raw"]), "levels_all": codec.config.num_levels}
    for name in ("codec", "codec_levels01"):
        result[name] = {
            "same_as_raw": sum(h == r for h, r in zip(heard[name], heard["raw"], strict=True)),
            "wer_vs_raw": round(float(jiwer.wer(heard["raw"], [h or "<empty>" for h in heard[name]])), 3),
        }
    result["heard"] = [dict(zip(heard, values, strict=True)) for values in zip(*heard.values(), strict=True)]
    return result


def speed(codec: LLMCodec, seconds: float = 10.0, repeats: int = 3) -> dict:
    rng = np.random.default_rng(0)
    from model.audio import Audio

    audio = Audio((0.1 * rng.standard_normal(int(seconds * 16_000))).astype(np.float32))
    codec.encode(audio)
    encode = min(timeit.repeat(lambda: codec.encode(audio), number=1, repeat=repeats))
    codes = codec.encode(audio)
    decode = min(timeit.repeat(lambda: codec.decode(codes), number=1, repeat=repeats))
    return {
        "encode_x_realtime": round(seconds / encode, 1),
        "decode_x_realtime": round(seconds / decode, 1),
        "encode_decode_x_realtime": round(seconds / (encode + decode), 1),
        "threads": torch.get_num_threads(),
    }


PARTS = ("quality", "usage", "overlap", "digits", "words", "speed")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default="checkpoints/codec")
    parser.add_argument("--dev", type=Path, default=Path("dev_set/manifest.json"))
    parser.add_argument("--out", type=Path, default=Path("bench_results/codec.json"))
    parser.add_argument("--clips", type=int, default=30, help="clips per quality category")
    parser.add_argument("--episodes", type=int, default=400)
    parser.add_argument("--digit-voices", type=int, default=5, help="voices per digit for the Whisper WER")
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS), help="what to measure")
    parser.add_argument("--categories", nargs="+", choices=list(CATEGORIES), default=list(CATEGORIES))
    parser.add_argument(
        "--vocoder", choices=VOCODERS, default="hifigan", help="HiFi-GAN (tuned) or the light iSTFT path"
    )
    args = parser.parse_args()
    try:  # the measuring tools, checked before any work is done
        import jiwer  # noqa: F401
        import pesq  # noqa: F401
        import pystoi  # noqa: F401
        import speechmos  # noqa: F401
    except ImportError as error:
        parser.error(f"{error.name} is missing: pip install -r requirements-bench.txt")
    torch.set_num_threads(2)
    codec = LLMCodec.from_pretrained(args.checkpoint, vocoder=args.vocoder)
    config = codec.config
    result = {
        "checkpoint": args.checkpoint,
        "frame_rates": [round(r, 2) for r in config.frame_rates],
        "tokens_per_second": round(config.tokens_per_second, 1),
        "bitrate": round(config.bitrate),
    }
    commands = load_clips(args.dev, "commands")
    if "quality" in args.parts:
        from model.codec.vocoder import TUNED_NAME, load_hifigan

        universal = load_hifigan()
        result["vocoder"] = {
            "name": args.vocoder,
            "fine_tuned": (Path(args.checkpoint) / TUNED_NAME).is_file(),
            "dtype": str(next(codec.vocoder.parameters()).dtype).removeprefix("torch."),
        }
        result["quality"] = {}
        for name in args.categories:
            task, role = CATEGORIES[name]
            clips = [c for c in load_clips(args.dev, task) if not role or c["role"] == role]
            result["quality"][name] = quality(codec, clips, args.clips)
            result["quality"][name]["vocoder_ceiling"] = vocoder_ceiling(codec, clips, args.clips, universal)
            print(name, result["quality"][name], flush=True)
    if "usage" in args.parts:
        tasks = ("commands", "sounds", "language", "style", "enhance")
        every = [c for task in tasks for c in load_clips(args.dev, task)]
        result["usage_per_level"] = usage(codec, every[::3])
    if "overlap" in args.parts:
        result["level0_overlap_nn"] = {
            f"{n}-way 1-shot": token_overlap_nn(codec, commands, n, args.episodes, seed=0) for n in (2, 5)
        }
        print("level-0 overlap", result["level0_overlap_nn"], flush=True)
    if "digits" in args.parts:
        result["whisper_digits"] = digit_wer(codec, commands, args.digit_voices)
        print("whisper digits", result["whisper_digits"], flush=True)
    if "words" in args.parts:
        english = [c for c in load_clips(args.dev, "language") if c["label"] == "English"]
        result["whisper_real_words"] = real_words(codec, english)
        print("whisper real words", {k: v for k, v in result["whisper_real_words"].items() if k != "heard"})
    if "speed" in args.parts:
        result["speed_cpu"] = speed(codec)
    write_result(args.out, result, vars(args))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
