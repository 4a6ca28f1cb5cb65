"""How synthesis should decode a sequence of words: the codec's copy of digit demonstrations, heard by Whisper.

    python -m bench.word_decoding [--texts 40] [--seed 1] [--pauses 0.1 0.2]

No LLM: for random three-digit texts spoken by each development TTS voice, the words' own codes (what a perfect
copy writes) are decoded as one sequence (``joint``), one word at a time and joined (``per_word``), and one word
at a time with a pause between words (``pause_<s>``); the raw clips joined are the reference. Whisper base
(faster-whisper) transcribes each: word error rate and texts heard exactly. This chose ``WORD_PAUSE_SECONDS`` in
``model/icl/pipeline.py``. Writes ``bench_results/word_decoding.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
from pathlib import Path

import numpy as np

from bench.generation import DIGITS, Whisper, wer
from bench.provenance import write_result
from model.audio import SAMPLE_RATE, join_with_pauses, load_audio
from model.codec.codes import Codes
from model.codec.io import VOCODERS, load_codec
from model.icl.pipeline import DEFAULT_CODEC

ROOT = Path(__file__).resolve().parents[1]


def run(codec, dev: Path, texts: int, seed: int, pauses: list[float]) -> dict:
    manifest = json.loads((dev / "manifest.json").read_text())
    digits = [c for c in manifest["clips"] if c["task"] == "tts" and c["label"] in DIGITS]
    voices = sorted({c["voice"] for c in digits})
    whisper, rng, rows = Whisper(), random.Random(seed), []
    decoded: dict[tuple[str, str], tuple[Codes, np.ndarray]] = {}
    for k in range(texts):
        voice = voices[k % len(voices)]
        paths = {c["label"]: dev / c["path"] for c in digits if c["voice"] == voice}
        words = [rng.choice(DIGITS) for _ in range(3)]
        raw = [load_audio(paths[w]) for w in words]
        for word, audio in zip(words, raw, strict=True):
            if (voice, word) not in decoded:
                codes = codec.encode(audio)
                decoded[voice, word] = (codes, codec.decode(codes).samples)
        codes = [decoded[voice, w][0] for w in words]
        together = Codes.joined(codes)
        singles = [decoded[voice, w][1] for w in words]
        ways = {"joint": codec.decode(together).samples, "per_word": join_with_pauses(singles, 0)}
        ways |= {f"pause_{p:g}": join_with_pauses(singles, round(p * SAMPLE_RATE)) for p in pauses}
        ways["raw_joined"] = join_with_pauses([a.samples for a in raw], 0)
        row = {"voice": voice, "text": " ".join(words)}
        for name, samples in ways.items():
            heard = whisper.words(samples)
            row[name] = {"heard": " ".join(heard), "wer": wer(words, heard)}
        rows.append(row)
        print(json.dumps(row), flush=True)
    names = [n for n in rows[0] if n not in ("voice", "text")]
    mean = {
        n: {
            "wer": round(statistics.mean(r[n]["wer"] for r in rows), 3),
            "exact": sum(r[n]["wer"] == 0 for r in rows),
        }
        for n in names
    }
    return {"texts": rows, "mean": mean}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--texts", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1, help="the generation benchmark's texts use seed 0")
    parser.add_argument("--pauses", type=float, nargs="+", default=[0.1, 0.2], help="seconds between words")
    parser.add_argument("--codec", type=Path, default=DEFAULT_CODEC)
    parser.add_argument("--vocoder", choices=VOCODERS, default="hifigan")
    parser.add_argument("--dev", type=Path, default=ROOT / "dev_set")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results" / "word_decoding.json")
    args = parser.parse_args()
    result = run(load_codec(args.codec, vocoder=args.vocoder), args.dev, args.texts, args.seed, args.pauses)
    write_result(args.out, result, vars(args))
    print(json.dumps(result["mean"]))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
