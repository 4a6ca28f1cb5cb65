"""Few-shot benchmark, driven through the fewshot-v1 protocol (``python -m model fewshot --jsonl``) on the
development set: support and query always from different voices (speech) or source files (sounds).

Per task × N-way × K-shot cell: accuracy with a 95 % Wilson interval for the calibrated LLM (our recipe),
the paper's recipe (level 0 only, clips cut to 1 s, greedy decoding restricted to label tokens, no
calibration), a non-LLM baseline (MFCC + DTW nearest neighbour) and chance. Prints a table, writes JSON.

    python -m bench.fewshot --lm default --tasks commands sounds --ways 2 5 --shots 1 3 --episodes 200
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np

from bench.episodes import Episode, load_clips, sample_episodes, wilson_interval
from bench.provenance import write_result
from model.icl.pipeline import RECIPES


class ProtocolClient:
    """A ``python -m model fewshot --jsonl`` process, asked one request at a time."""

    def __init__(self, lm: str, recipe: str, dtype: str = "auto", codec: str | None = None, levels: str | None = None):
        command = [sys.executable, "-m", "model", "--lm", lm, "--dtype", dtype]
        command += ["--codec", codec] if codec else []
        command += ["fewshot", "--jsonl", "--recipe", recipe]
        command += ["--levels", levels] if levels else []
        self.process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def ask(self, episode: Episode, task: str, episode_id: str) -> dict:
        request = {
            "protocol": "fewshot-v1",
            "episode_id": episode_id,
            "task": task,
            "labels": list(episode.labels),
            "support": [{"path": p, "label": label} for p, label in episode.support],
            "query": {"path": episode.query[0]},
        }
        self.process.stdin.write(json.dumps(request) + "\n")
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=60)


def mfcc(path: str) -> np.ndarray:
    """(T, 13) MFCCs with per-clip mean/variance normalisation."""
    import torch
    from scipy.fft import dct

    from model.audio import load_audio, resample
    from model.codec.mel import LogMel

    samples = resample(load_audio(path).samples, 16_000, 22_050)
    mel = LogMel()(torch.from_numpy(samples)[None])[0].T.numpy()  # (T, 80)
    coefficients = dct(mel, type=2, norm="ortho", axis=1)[:, :13]
    return (coefficients - coefficients.mean(0)) / (coefficients.std(0) + 1e-5)


def dtw(a: np.ndarray, b: np.ndarray) -> float:
    """Length-normalised dynamic-time-warping distance between (T, d) sequences (Euclidean frame cost)."""
    import librosa

    accumulated, _ = librosa.sequence.dtw(a.T, b.T, metric="euclidean")
    return float(accumulated[-1, -1] / (len(a) + len(b)))


def mfcc_dtw_accuracy(episodes: list[Episode], cache: dict) -> int:
    correct = 0
    for episode in episodes:
        for path in [p for p, _ in episode.support] + [episode.query[0]]:
            if path not in cache:
                cache[path] = mfcc(path)
        query = cache[episode.query[0]]
        best = min(episode.support, key=lambda item: dtw(query, cache[item[0]]))
        correct += best[1] == episode.query[1]
    return correct


def run_cell(client: ProtocolClient, episodes: list[Episode], task: str, tag: str) -> tuple[int, int, float]:
    correct, errors, started = 0, 0, time.perf_counter()
    for i, episode in enumerate(episodes):
        answer = client.ask(episode, task, f"{tag}-{i}")
        errors += "error" in answer
        correct += answer.get("label") == episode.query[1]
    return correct, errors, (time.perf_counter() - started) / max(1, len(episodes))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm", nargs="+", default=["default"])
    parser.add_argument("--tasks", nargs="+", default=["commands", "sounds", "language", "style"])
    parser.add_argument("--ways", nargs="+", default=["2", "5", "all"])
    parser.add_argument("--shots", nargs="+", type=int, default=[1, 3, 5])
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--recipes", nargs="+", default=["ours", "paper"])
    parser.add_argument("--no-baseline", action="store_true", help="skip the MFCC + DTW baseline")
    parser.add_argument("--dtype", default="auto", help="the LLM's dtype (auto, int8, bf16, fp32)")
    parser.add_argument("--codec", help="codec checkpoint folder (default: the shipped one)")
    parser.add_argument("--levels", help="override every recipe's codec levels, e.g. 0 or 0,1")
    parser.add_argument("--dev", type=Path, default=Path("dev_set/manifest.json"))
    parser.add_argument("--out", type=Path, default=Path("bench_results/fewshot.json"))
    args = parser.parse_args()
    rows, mfcc_cache = [], {}
    clients = {
        (lm, r): ProtocolClient(lm, r, args.dtype, args.codec, args.levels) for lm in args.lm for r in args.recipes
    }
    for task in args.tasks:
        clips = load_clips(args.dev, task)
        for way in args.ways:
            n_way = None if way == "all" else int(way)
            for shots in args.shots:
                episodes = sample_episodes(clips, n_way, shots, args.episodes, seed=0)
                if not episodes:
                    continue
                n = len(episodes[0].labels)
                row = {"task": task, "way": way, "shots": shots, "episodes": len(episodes), "chance": round(1 / n, 3)}
                for (lm, recipe), client in clients.items():
                    correct, errors, seconds = run_cell(client, episodes, task, f"{task}-{way}-{shots}")
                    low, high = wilson_interval(correct, len(episodes))
                    row[f"{lm}/{recipe}"] = {
                        "accuracy": round(correct / len(episodes), 3),
                        "ci95": [round(low, 3), round(high, 3)],
                        "errors": errors,
                        "seconds_per_episode": round(seconds, 2),
                    }
                if not args.no_baseline:
                    correct = mfcc_dtw_accuracy(episodes, mfcc_cache)
                    low, high = wilson_interval(correct, len(episodes))
                    row["mfcc_dtw"] = {
                        "accuracy": round(correct / len(episodes), 3),
                        "ci95": [round(low, 3), round(high, 3)],
                    }
                rows.append(row)
                print(json.dumps(row), flush=True)
                recipes = {r: asdict(RECIPES[r]) for r in args.recipes}  # what each column means, as data
                # after every cell: long runs keep their results
                write_result(args.out, {"rows": rows}, vars(args) | {"recipe_options": recipes})
    for client in clients.values():
        client.close()
    print_table(rows)


def print_table(rows: list[dict]) -> None:
    methods = [k for k in rows[0] if isinstance(rows[0][k], dict)] if rows else []
    print("\n| task | N | K | chance | " + " | ".join(methods) + " |")
    print("|---" * (4 + len(methods)) + "|")
    for row in rows:
        cells = [f"{row[m]['accuracy']:.2f} [{row[m]['ci95'][0]:.2f}, {row[m]['ci95'][1]:.2f}]" for m in methods]
        print(f"| {row['task']} | {row['way']} | {row['shots']} | {row['chance']:.2f} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
