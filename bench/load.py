"""Load test: many concurrent gradio_client users against the real app on 127.0.0.1.

    python -m bench.load [--lm tiny] [--users 20] [--requests 10] [--burst 60]

Phase 1 (steady): ``--users`` threads, each its own ``gradio_client.Client``, each sending ``--requests`` mixed
requests one after another (classify, codec explorer, enhance, synthesize, on demo clips; enhance clips cut to
1.2 s so a CPU run ends in minutes). Reports failures, p50/p95 latency (submit → result, queueing included) per
kind, and the server's resident memory sampled every 0.5 s: after warm-up (the first quarter of the requests)
and at the end. Phase 2 (burst): ``--burst`` classify requests submitted at once, more than the queue holds
(``--max-queue``): each is either answered or told "Queue is full" — none may vanish — and the waiting ones
are told their place in the queue. Prints a table and writes JSON to ``bench_results/load_<lm>.json``.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import soundfile as sf

from bench.provenance import write_result
from bench.serving import ROOT, running_app

DEMO = ROOT / "demo_examples"
WORDS = ["one", "two", "three", "four", "five", "yes", "no", "stop", "go"]
VOICES = ["flite_slt", "flite_rms", "espeak_ng_en_us_f3", "espeak_ng_en_gb_m3"]
KINDS = ["classify"] * 5 + ["explore"] * 2 + ["enhance", "synthesize", "classify"]  # 10 per user, shuffled


def table(rows: list[list[str]], column: str) -> dict:
    return {"headers": ["clip", column], "data": rows, "metadata": None}


def command_clip(word: str, voice: str) -> Path:
    path = DEMO / "commands" / word / f"{voice}.flac"
    return path if path.exists() else next((DEMO / "commands" / word).glob("*.flac"))


def short_enhance_clips(folder: Path, seconds: float = 1.2) -> tuple[str, str, str]:
    """(noisy, clean, noisy query) cut to ``seconds`` from two demo pairs."""
    out = []
    for name in ("pair00_noisy", "pair00_clean", "pair01_noisy"):
        samples, rate = sf.read(DEMO / "enhance" / f"{name}.flac")
        path = folder / f"{name}.flac"
        sf.write(path, samples[: int(seconds * rate)], rate)
        out.append(str(path))
    return out[0], out[1], out[2]


class User:
    def __init__(self, url: str, seed: int, enhance_clips: tuple[str, str, str]):
        from gradio_client import Client

        self.client, self.rng, self.enhance_clips = Client(url, verbose=False), random.Random(seed), enhance_clips

    def send(self, kind: str) -> None:
        from gradio_client import handle_file

        rng = self.rng
        if kind == "classify":
            words = rng.sample(WORDS, 3)
            demo_voice, query_voice = rng.sample(VOICES, 2)
            demos = [command_clip(w, demo_voice) for w in words]
            rows = table([[p.name, w] for p, w in zip(demos, words, strict=True)], "label")
            query = handle_file(str(command_clip(rng.choice(words), query_voice)))
            result = self.client.predict(
                [handle_file(str(p)) for p in demos],
                rows,
                query,
                "0",
                0,
                "direct",
                api_name="/classify",
            )
            assert result[0]["label"] in words
        elif kind == "explore":
            clip = command_clip(rng.choice(WORDS), rng.choice(VOICES))
            assert "tokens/s" in self.client.predict(handle_file(str(clip)), api_name="/explore")[-1]
        elif kind == "enhance":
            noisy, clean, query = self.enhance_clips
            output = self.client.predict(
                [handle_file(noisy)], [handle_file(clean)], handle_file(query), api_name="/enhance"
            )[0]
            assert Path(output).is_file()
        else:
            digits = rng.sample(range(10), 3)
            files = [DEMO / "tts" / "flite_slt" / f"{d:02d}.flac" for d in digits]
            rows = table([[f.name, str(d)] for f, d in zip(files, digits, strict=True)], "text")
            text = " ".join(str(rng.choice(digits)) for _ in range(2))
            output = self.client.predict([handle_file(str(f)) for f in files], rows, text, api_name="/synthesize")[0]
            assert Path(output).is_file()


def steady(url: str, users: int, requests: int, enhance_clips, sample_rss) -> dict:
    results: list[dict] = []
    lock = threading.Lock()

    def run_user(index: int) -> None:
        user = User(url, index, enhance_clips)
        kinds = (KINDS * (requests // len(KINDS) + 1))[:requests]
        user.rng.shuffle(kinds)
        for kind in kinds:
            started = time.perf_counter()
            try:
                user.send(kind)
                error = None
            except Exception as exc:  # a load test counts every failure, whatever its kind
                error = f"{type(exc).__name__}: {exc}"[:300]
            with lock:
                results.append({"kind": kind, "seconds": time.perf_counter() - started, "error": error})
                sample_rss(len(results))

    threads = [threading.Thread(target=run_user, args=(i,)) for i in range(users)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - started
    summary = {"users": users, "requests": len(results), "wall_seconds": round(wall, 1)}
    summary["failures"] = sum(r["error"] is not None for r in results)
    summary["failure_examples"] = sorted({r["error"] for r in results if r["error"]})[:5]
    for kind in ["all", *sorted(set(KINDS))]:
        times = sorted(r["seconds"] for r in results if kind in ("all", r["kind"]) and r["error"] is None)
        if times:
            summary[kind] = {
                "count": len(times),
                "p50": round(statistics.median(times), 2),
                "p95": round(times[min(len(times) - 1, int(0.95 * len(times)))], 2),
            }
    return summary


def burst(url: str, count: int) -> dict:
    """``count`` classify jobs submitted at once: each must end answered or told that the queue is full."""
    from gradio_client import Client, handle_file

    client = Client(url, verbose=False)
    words = ["one", "two", "three"]
    demos = [command_clip(w, "flite_slt") for w in words]
    rows = table([[p.name, w] for p, w in zip(demos, words, strict=True)], "label")
    args = ([handle_file(str(p)) for p in demos], rows, handle_file(str(command_clip("two", "flite_rms"))))
    jobs = [client.submit(*args, "0", 0, "direct", api_name="/classify") for _ in range(count)]
    ranks: list[int] = []
    outcomes: Counter = Counter()
    deadline = time.time() + 600
    while time.time() < deadline:
        for job in jobs:
            status = job.status()
            if status.rank is not None:
                ranks.append(status.rank)
        if all(job.done() for job in jobs):
            break
        time.sleep(0.2)
    for job in jobs:
        try:
            job.result(timeout=1)
            outcomes["answered"] += 1
        except Exception as exc:
            text = str(exc)
            outcomes["told the queue is full" if "Queue is full" in text else f"other: {text[:120]}"] += 1
    return {
        "submitted": count,
        **outcomes,
        "unaccounted": count - sum(outcomes.values()),
        "max_queue_position_told": max(ranks, default=None),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm", default="tiny")
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--requests", type=int, default=10, help="per user")
    parser.add_argument("--burst", type=int, default=60)
    parser.add_argument("--max-queue", type=int, default=32)
    parser.add_argument("--concurrency-limit", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    out = args.out or ROOT / "bench_results" / f"load_{args.lm}.json"
    rss: list[tuple[int, float]] = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_app(
            "--lm", args.lm, "--max-queue", str(args.max_queue), "--concurrency-limit", str(args.concurrency_limit)
        ) as app,
    ):
        enhance_clips = short_enhance_clips(Path(tmp))
        start_rss = app.rss_mb()
        report = {
            "lm": args.lm,
            "max_queue": args.max_queue,
            "concurrency_limit": args.concurrency_limit,
            "rss_start_mb": start_rss,
        }
        report["steady"] = steady(
            app.url, args.users, args.requests, enhance_clips, lambda done: rss.append((done, app.rss_mb()))
        )
        total = len(rss)
        warm = [mb for done, mb in rss if done >= total // 4]
        report["rss_mb"] = {
            "after_warm_up": round(warm[0], 1),
            "end": round(warm[-1], 1),
            "max": round(max(mb for _, mb in rss), 1),
            "growth_after_warm_up": round(warm[-1] - warm[0], 1),
            "warm_up_requests": total // 4,
        }
        report["burst"] = burst(app.url, args.burst)
        report["rss_mb"]["after_burst"] = round(app.rss_mb(), 1)
    write_result(out, report, vars(args))
    print(json.dumps(report, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
