"""Latency of the library on this machine: classify with direct and with channel scoring (new support set, and
each further query with the support set cached), enhance and synthesize, on clips from the demo set. Prints JSON.

    python -m bench.latency [--lm default] [--device auto] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
import timeit
from pathlib import Path

import numpy as np
import torch

from bench.provenance import write_result
from model.audio import Audio, load_audio
from model.icl.pipeline import ClassifyOptions, ICLPipeline
from model.lm.frozen import DRAFT_BLOCK, MAX_DRAFT_BLOCK

DEMO = Path(__file__).resolve().parent.parent / "demo_examples"


def one_second(path: Path) -> Audio:
    """The clip padded or cut to exactly 1 s (the benchmark's clip length)."""
    audio = load_audio(path)
    samples = np.pad(audio.samples, (0, max(0, 16_000 - len(audio.samples))))[:16_000]
    return Audio(samples, 16_000, path.name)


def timed(fn, repeats: int) -> float:
    """Median seconds over ``repeats`` calls."""
    return round(statistics.median(timeit.repeat(fn, number=1, repeat=repeats)), 3)


def pass_seconds(lm, tokens: int, context: int = 1200, repeats: int = 5) -> float:
    """Median seconds of one forward pass of ``tokens`` new tokens on a cache of ``context`` (what checking a
    draft of ``tokens - 1`` costs, against one token per pass without one)."""
    prefix = lm.prefix(torch.arange(1000, 1000 + context))
    ids = torch.arange(5000, 5000 + tokens)
    return timed(lambda: lm.extend(prefix, ids), repeats)


def measure(pipeline: ICLPipeline, repeats: int = 5) -> dict:
    """Median seconds of each library call on demo clips (also used by ``bench.gpu`` on a GPU machine)."""
    words = ["zero", "one", "two", "three", "four"]
    demos = [(one_second(DEMO / f"commands/{w}/flite_slt.flac"), w) for w in words]
    queries = [one_second(DEMO / f"commands/{w}/flite_rms.flac") for w in words]
    for audio in [a for a, _ in demos] + queries:  # encode once: the cache holds codes, not prompts
        pipeline.tokenize(audio)
    support = pipeline.support_set(demos)
    channel = ClassifyOptions(scoring="channel")
    channel_support = pipeline.support_set(demos, channel)
    result = {
        "device": str(pipeline.lm.device),
        "dtype": pipeline.lm.precision,
        "lm": pipeline.lm.name,
        "threads": torch.get_num_threads(),
        "codec_encode_1s": timed(lambda: pipeline.codec.encode(queries[0]), repeats),
        "classify_5way_1shot_new_support": timed(lambda: pipeline.classify(queries[0], demos, explain=False), repeats),
        "classify_each_further_query": timed(lambda: pipeline.classify(queries[1], support, explain=False), repeats),
        "classify_with_attention_view": timed(lambda: pipeline.classify(queries[1], support), repeats),
        "channel_5way_1shot_new_support": timed(
            lambda: pipeline.classify(queries[0], demos, channel, explain=False), repeats
        ),
        "channel_each_further_query": timed(
            lambda: pipeline.classify(queries[1], channel_support, explain=False), repeats
        ),
    }
    for tokens in (1, DRAFT_BLOCK + 1, 4 * DRAFT_BLOCK + 1, MAX_DRAFT_BLOCK + 1):  # what a draft check costs
        result[f"lm_pass_{tokens}_tokens_on_1200"] = pass_seconds(pipeline.lm, tokens, repeats=repeats)
    pairs = [(DEMO / "enhance/pair00_noisy.flac", DEMO / "enhance/pair00_clean.flac")]
    result["enhance_one_pair_seconds"] = timed(lambda: pipeline.enhance(pairs, DEMO / "enhance/pair01_noisy.flac"), 1)
    tts = [(w, DEMO / f"tts/flite_slt/{i:02d}.flac") for i, w in enumerate(["zero", "one", "two", "three"])]
    result["synthesize_3_words_seconds"] = timed(lambda: pipeline.synthesize(tts, "3 1 2"), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm", default="default")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench_results/latency.json"))
    args = parser.parse_args()
    started = time.perf_counter()
    pipeline = ICLPipeline.from_pretrained(args.lm, device=args.device, dtype=args.dtype)
    result = {"load_seconds": round(time.perf_counter() - started, 1)} | measure(pipeline, args.repeats)
    print(json.dumps(result, indent=1))
    write_result(args.out, result, vars(args))


if __name__ == "__main__":
    main()
