"""Does the codec remove noise on its own? Its resynthesis of noisy development clips, per set of levels.

Enhancement asks the LLM to write clean tokens for a noisy query. If the codec's copy of the noisy clip were
cleaner than the clip (as a semantic level 0 from a noise-robust encoder could make it, decoded without the
acoustic levels that carry the noise), copying the right levels would already enhance. This measures it: for
the enhancement bench's queries (noisy development clips mixed at −5…5 dB), PESQ-wb, STOI against the clean
clip and DNSMOS OVRL of the noisy clip and of the codec's resynthesis of it from level 0, levels 0–1 and every
level — beside the same for the clean clip (the ceiling of a token-based enhancer at those levels) — with the
paired difference of each resynthesis against the noisy input (mean and 95 % interval). No LLM is involved.

    python -m bench.codec_noise [--clips 20] [--vocoder hifigan|istft] [--out bench_results/codec_noise.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from bench.generation import enhancement_clips, paired_difference, quality
from bench.provenance import write_result
from model.audio import load_audio
from model.codec.io import VOCODERS, load_codec

ROOT = Path(__file__).resolve().parent.parent
METRICS = ("pesq", "stoi", "dnsmos")


def level_sets(num_levels: int) -> dict[str, int]:
    """Column name → the highest level decoded."""
    return {"level 0": 0, "levels 0–1": 1, "all levels": num_levels - 1}


def measure(codec, dev: Path, count: int) -> dict:
    queries = enhancement_clips(dev)[1][:count]
    if not queries:
        raise ValueError(f"{dev} has no noisy enhancement clips at -5…5 dB; build it with demo_examples/build.py --dev")
    sets = level_sets(codec.config.num_levels)
    rows = []
    for query in queries:
        pair = query["pair"]
        noisy, clean = load_audio(dev / f"enhance/{pair}_noisy.flac"), load_audio(dev / f"enhance/{pair}_clean.flac")
        noisy_codes, clean_codes = codec.encode(noisy), codec.encode(clean)
        row = {"pair": pair, "noise": query["label"], "snr_db": query["snr_db"]}
        row["noisy"] = quality(clean.samples, noisy.samples)
        for name, top in sets.items():
            row[f"noisy, {name}"] = quality(clean.samples, codec.decode(noisy_codes.upto(top)).samples)
            row[f"clean, {name}"] = quality(clean.samples, codec.decode(clean_codes.upto(top)).samples)
        rows.append(row)
        print(json.dumps(row), flush=True)
    systems = ["noisy"] + [f"{which}, {name}" for name in sets for which in ("noisy", "clean")]
    mean = {s: {m: round(float(np.mean([r[s][m] for r in rows])), 3) for m in METRICS} for s in systems}
    paired = {
        f"noisy, {name} minus noisy": {m: paired_difference(rows, f"noisy, {name}", "noisy", m) for m in METRICS}
        for name in sets
    }
    return {"clips": rows, "mean": mean, "paired": paired}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codec", type=Path, default=ROOT / "checkpoints/codec")
    parser.add_argument("--vocoder", choices=VOCODERS, default="hifigan")
    parser.add_argument("--clips", type=int, default=20)
    parser.add_argument("--dev", type=Path, default=ROOT / "dev_set")
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results/codec_noise.json")
    args = parser.parse_args()
    codec = load_codec(args.codec, vocoder=args.vocoder)
    result = {"checkpoint": str(args.codec), "vocoder": args.vocoder} | measure(codec, args.dev, args.clips)
    write_result(args.out, result, vars(args))
    for name, values in result["mean"].items():
        print(f"{name:24s} " + "  ".join(f"{m} {values[m]:.3f}" for m in METRICS))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
