"""Choose level 0 by measurement: which Whisper-base block, which code rate and how many word codes make
level-0 tokens that repeat across voices (and still tell sound events apart).

For every (block, rate): Whisper features of a sample of the training set, standardised, k-means into K
centroids for several K; then, on the development set, a 1-shot nearest neighbour on level-0 token-set
overlap (Jaccard; support and query from different voices or source files), the proxy for what an LLM can
copy. Also the tokens per second once repeats are collapsed (what a prompt pays).

    python -m bench.level0 [--train train_set/manifest.json] [--dev dev_set/manifest.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from bench.episodes import load_clips, sample_episodes
from bench.provenance import write_result
from model.audio import load_audio
from model.codec.train import kmeans
from model.codec.whisper import HOP, WhisperEncoder


def block_features(encoder: WhisperEncoder, path: str, blocks: list[int], pools: list[int]) -> dict:
    """{(block, pool): (T, 512) features averaged over ``pool`` encoder frames}."""
    samples = load_audio(path).samples
    longest = max(pools) * HOP
    padded = np.zeros(-(-len(samples) // longest) * longest, dtype=np.float32)
    padded[: len(samples)] = samples
    with torch.inference_mode():
        states = encoder.hidden_states(torch.from_numpy(padded)[None])
    return {(b, p): states[b - 1][0].view(-1, p, 512).mean(dim=1) for b in blocks for p in pools}


def overlap_nn(tokens: dict[str, set], clips: list[dict], n_way: int, episodes: int) -> float:
    correct, sampled = 0, sample_episodes(clips, n_way, 1, episodes, seed=0)
    for episode in sampled:
        query = tokens[episode.query[0]]
        sims = [len(query & tokens[p]) / max(1, len(query | tokens[p])) for p, _ in episode.support]
        correct += episode.support[int(np.argmax(sims))][1] == episode.query[1]
    return round(correct / len(sampled), 3)


def collapsed_rate(codes: torch.Tensor, seconds: float) -> float:
    return float(len(torch.unique_consecutive(codes))) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=Path, default=Path("train_set/manifest.json"))
    parser.add_argument("--dev", type=Path, default=Path("dev_set/manifest.json"))
    parser.add_argument("--blocks", type=int, nargs="+", default=[3, 4, 5, 6])
    parser.add_argument("--pools", type=int, nargs="+", default=[2, 4], help="encoder frames per code (50 Hz / n)")
    parser.add_argument("--sizes", type=int, nargs="+", default=[128, 256, 512, 1024, 2048])
    parser.add_argument("--train-clips", type=int, default=900)
    parser.add_argument("--episodes", type=int, default=400)
    parser.add_argument("--out", type=Path, default=Path("bench_results/level0_sweep.json"))
    args = parser.parse_args()
    encoder = WhisperEncoder.from_wheels(max(args.blocks))
    train = json.loads(args.train.read_text())["clips"]
    picked = train[:: max(1, len(train) // args.train_clips)]
    train_features: dict = {}
    for clip in picked:
        path = str(args.train.parent / clip["path"])
        for key, value in block_features(encoder, path, args.blocks, args.pools).items():
            train_features.setdefault(key, []).append(value)
    dev = {task: load_clips(args.dev, task) for task in ("commands", "sounds")}
    dev_features = {
        c["path"]: block_features(encoder, c["path"], args.blocks, args.pools) for clips in dev.values() for c in clips
    }
    results = []
    for key, chunks in train_features.items():
        data = torch.cat(chunks)
        mean, std = data.mean(dim=0), data.std(dim=0) + 1e-5
        data = (data - mean) / std
        sample = data[torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:30_000]]
        for k in args.sizes:
            centroids = kmeans(sample, k, seed=0, iterations=15)
            codes = {p: torch.cdist((f[key] - mean) / std, centroids).argmin(dim=1) for p, f in dev_features.items()}
            tokens = {p: set(c.tolist()) for p, c in codes.items()}
            seconds = {c["path"]: len(load_audio(c["path"]).samples) / 16_000 for c in dev["commands"]}
            row = {
                "block": key[0],
                "rate_hz": 50 / key[1],
                "words": k,
                "commands_2way": overlap_nn(tokens, dev["commands"], 2, args.episodes),
                "commands_5way": overlap_nn(tokens, dev["commands"], 5, args.episodes),
                "sounds_2way": overlap_nn(tokens, dev["sounds"], 2, args.episodes),
                "collapsed_tokens_per_s": round(
                    float(np.mean([collapsed_rate(codes[p], s) for p, s in seconds.items()])), 1
                ),
            }
            results.append(row)
            print(json.dumps(row), flush=True)
    write_result(args.out, {"sweep": results}, vars(args))


if __name__ == "__main__":
    main()
