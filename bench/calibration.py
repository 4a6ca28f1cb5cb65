"""How well channel scoring's probabilities match its accuracy, and the temperature that makes them match.

Fits one temperature (minimum negative log-likelihood of the true label) on episodes from the *training* set
(single spoken words, support and query from different voices), then reports on development-set episodes — the same
first episodes as ``bench/fewshot.py`` — accuracy, NLL, expected calibration error (ECE, 10 bins over the top
label's probability) and the mean top probability: for the raw scores (softmax of the total log-probability,
what the app showed before), for the shipped temperature (``model.channel.TEMPERATURE``) and for the fitted one.
Prints JSON.

    python -m bench.calibration --lm default --train-episodes 120 --episodes 60
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np

from bench.episodes import Episode, load_clips, sample_episodes
from bench.provenance import write_result
from model.icl.channel import TEMPERATURE
from model.icl.pipeline import RECIPES, ICLPipeline

CHANNEL = RECIPES["channel"]


def run(pipeline: ICLPipeline, episodes: list[Episode]) -> list[tuple[np.ndarray, int, int]]:
    """Per episode: channel scores per query token, the true label's index, and the query's token count."""
    out = []
    for episode in episodes:
        ordered = sorted(episode.support, key=lambda item: episode.labels.index(item[1]))
        result = pipeline.classify(episode.query[0], pipeline.support_set(ordered, CHANNEL), explain=False)
        scores = np.array([result.scores[label] for label in episode.labels])
        tokens = sum(s.end - s.start for s in result.prompt.segments if s.role == "query")
        out.append((scores, episode.labels.index(episode.query[1]), tokens))
    return out


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max())
    return e / e.sum()


def metrics(probs: list[np.ndarray], truth: list[int], bins: int = 10) -> dict:
    top = np.array([p.max() for p in probs])
    hit = np.array([int(np.argmax(p)) == y for p, y in zip(probs, truth, strict=True)])
    nll = -np.mean([math.log(max(p[y], 1e-12)) for p, y in zip(probs, truth, strict=True)])
    ece = 0.0
    for b in range(bins):
        inside = (top > b / bins) & (top <= (b + 1) / bins)
        if inside.any():
            ece += inside.mean() * abs(hit[inside].mean() - top[inside].mean())
    return {
        "accuracy": round(float(hit.mean()), 3),
        "nll": round(float(nll), 3),
        "ece": round(float(ece), 3),
        "mean_top_probability": round(float(top.mean()), 3),
    }


def fit_temperature(runs: list[tuple[np.ndarray, int, int]]) -> float:
    """The temperature in [1e-3, 10] with the lowest NLL on ``runs`` (bounded scalar search over log T)."""
    from scipy.optimize import minimize_scalar

    def nll(log_t: float) -> float:
        t = math.exp(log_t)
        return -float(np.mean([np.log(max(softmax(s / t)[y], 1e-12)) for s, y, _ in runs]))

    return float(math.exp(minimize_scalar(nll, bounds=(math.log(1e-3), math.log(10)), method="bounded").x))


def report(runs: list[tuple[np.ndarray, int, int]], fitted: float) -> dict:
    truth = [y for _, y, _ in runs]
    return {
        "raw": metrics([softmax(s * n) for s, _, n in runs], truth),
        "shipped": metrics([softmax(s / TEMPERATURE) for s, _, _ in runs], truth),
        "fitted": metrics([softmax(s / fitted) for s, _, _ in runs], truth),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm", default="default")
    parser.add_argument("--train-episodes", type=int, default=120, help="half 2-way, half 5-way 1-shot")
    parser.add_argument("--episodes", type=int, default=60, help="per development cell")
    parser.add_argument("--train", type=Path, default=Path("train_set/manifest.json"))
    parser.add_argument("--dev", type=Path, default=Path("dev_set/manifest.json"))
    parser.add_argument("--out", type=Path, default=Path("bench_results/calibration.json"))
    args = parser.parse_args()
    pipeline = ICLPipeline.from_pretrained(args.lm)
    # Spoken words (not the sentences, nor the two-letter language codes of the language clips).
    words = [c for c in load_clips(args.train, "speech") if len(c["label"]) > 2 and c["label"].isalpha()]
    half = args.train_episodes // 2
    train = sample_episodes(words, 2, 1, half, seed=1) + sample_episodes(words, 5, 1, half, seed=2)
    train_runs = run(pipeline, train)
    fitted = fit_temperature(train_runs)
    result = {"lm": pipeline.lm.name, "shipped_temperature": TEMPERATURE, "fitted_temperature": round(fitted, 4)}
    result["train (fitted on)"] = report(train_runs, fitted)
    cells = [("commands", 2), ("commands", 5), ("sounds", 2), ("sounds", 5)]
    for task, way in cells:
        episodes = sample_episodes(load_clips(args.dev, task), way, 1, args.episodes, seed=0)
        result[f"{task} {way}-way 1-shot"] = report(run(pipeline, episodes), fitted)
        print(json.dumps({f"{task} {way}-way 1-shot": result[f"{task} {way}-way 1-shot"]}), flush=True)
    write_result(args.out, result, vars(args) | {"shipped_temperature": TEMPERATURE})
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
