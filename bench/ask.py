"""Speech in, text out, on the development prompts of ``ask_set/`` (``python scripts/build_ask_set.py``): voices and
question texts never trained on. Needs ``pip install -r requirements-bench.txt`` (ROUGE).

    python -m bench.ask [--lm tiny] [--adapter DIR] [--dtype auto] [--questions 0] [--passages 20] [--parts …]
        [--paths direct,cascade] [--beam 8] [--lm-weight 0.3] [--keep]

* **Questions** with one-word answers: first the LLM answers from the transcript; the prompts it gets right
  are kept (so the accuracy from text is 1 on them by construction), then the same prompts are asked from
  speech, on the direct path (adapter) and the cascade (Whisper base → the same LLM). The figure the issue asks
  for is accuracy from speech ÷ accuracy from text.
* **Alignment** (aligned adapters): the adapter's own transcript of each development question (its CTC head over
  the LLM's tokens, read as ``--beam`` / ``--lm-weight`` say; ``--beam 1``: greedy), word error rate against the
  words spoken.
* **Passages** (20–60 s): a one-sentence summary from speech (both paths) against the summary from the
  transcript, ROUGE-L F1.
* **Latency**: a 10-s spoken question (a development passage cut to 10 s) answered in a few words, both paths.

Writes ``bench_results/ask_<lm>.json``.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import statistics
import time
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from bench.provenance import write_result
from model.audio import Audio, load_audio
from model.speech.ask import PATHS, AskPipeline

ROOT = Path(__file__).resolve().parent.parent
ANSWER_TOKENS = 16  # enough for "The capital of Germany is Berlin."


def is_correct(answer: str, accepted: list[str]) -> bool:
    """Any accepted answer as a word of the (short) response, case and punctuation ignored: small instruct
    models answer in a sentence ("The capital of Germany is Berlin.") whatever the instruction says."""
    words = re.findall(r"[a-z0-9]+", answer.lower())
    return any(a.lower() in words for a in accepted)


def rouge_l(reference: str, candidate: str) -> float:
    from rouge_score import rouge_scorer

    return float(rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True).score(reference, candidate)["rougeL"].fmeasure)


def questions(pipeline: AskPipeline, clips: list[dict], root: Path, limit: int, paths=PATHS) -> dict:
    rows, dropped = [], 0
    answer_text = functools.cache(pipeline.answer_text)  # each question text is spoken by several voices
    for clip in clips[: limit or None]:
        from_text = answer_text(clip["text"], clip["instruction"], max_new_tokens=ANSWER_TOKENS)
        if not is_correct(from_text, clip["answers"]):
            dropped += 1
            continue
        row = {"text": clip["text"], "voice": clip["voice"], "from_text": from_text}
        for path in paths:
            result = pipeline.answer(root / clip["path"], clip["instruction"], path, max_new_tokens=ANSWER_TOKENS)
            row[path] = {"answer": result.text, "correct": is_correct(result.text, clip["answers"])}
            row[path] |= {"seconds": round(result.seconds, 2), "heard": result.transcript}
        rows.append(row)
        print(json.dumps(row), flush=True)
    return summarise_questions(rows, len(rows) + dropped)


def summarise_questions(rows: list[dict], asked: int) -> dict:
    summary = {"prompts": asked, "right_from_text": len(rows), "text_accuracy": round(len(rows) / max(1, asked), 3)}
    for path in [p for p in PATHS if all(p in r for r in rows)]:  # the paths this run asked
        accuracy = statistics.mean(r[path]["correct"] for r in rows) if rows else 0.0
        summary[f"{path}_accuracy_relative_to_text"] = round(accuracy, 3)
        summary[f"{path}_seconds"] = round(statistics.mean(r[path]["seconds"] for r in rows), 2) if rows else None
    return {"summary": summary, "rows": rows}


def plain_words(text: str) -> str:
    """Lower-case words only: case and punctuation are not what the alignment's WER is about."""
    return " ".join(re.findall(r"[a-z0-9']+", text.lower()))


def alignment(pipeline: AskPipeline, clips: list[dict], root: Path) -> dict:
    """An aligned adapter's own transcript (its CTC head over the LLM's tokens, read as the pipeline's
    ``listening`` says, with the clip alone as the LLM's context) against the words spoken: word error rate."""
    import jiwer

    adapter = pipeline.adapter
    if adapter is None or not adapter.config.aligned:
        return {"summary": {"note": "the adapter is not aligned (no CTC head)"}}
    rows = []
    for clip in clips:
        heard = pipeline.listen(load_audio(root / clip["path"], limits=pipeline.limits).samples)[1]
        rows.append({"text": clip["text"], "heard": heard, "voice": clip["voice"]})
    spoken = [plain_words(r["text"]) for r in rows]
    said = [plain_words(r["heard"]) or "<empty>" for r in rows]
    summary = {"clips": len(rows), "wer": round(float(jiwer.wer(spoken, said)), 3)}
    summary["exact"] = round(statistics.mean(a == b for a, b in zip(spoken, said, strict=True)), 3)
    return {"summary": summary, "rows": rows}


def passages(pipeline: AskPipeline, clips: list[dict], root: Path, limit: int, paths=PATHS) -> dict:
    rows = []
    for clip in clips[:limit]:
        try:
            audio = load_audio(root / clip["path"], limits=pipeline.limits)
        except ValueError as error:  # a broken or over-long clip is skipped, and said so
            print(f"skipped {clip['path']}: {error}", flush=True)
            continue
        if not 20 <= audio.duration <= 60:
            continue
        from_text = pipeline.answer_text(clip["text"], clip["instruction"], max_new_tokens=48)
        row = {"seconds_of_speech": round(audio.duration, 1), "from_text": from_text}
        for path in paths:
            result = pipeline.answer(audio, clip["instruction"], path, max_new_tokens=48)
            row[path] = {"summary": result.text, "rouge_l": round(rouge_l(from_text, result.text), 3)}
            row[path]["seconds"] = round(result.seconds, 2)
        rows.append(row)
        print(json.dumps(row), flush=True)
    summary = {"passages": len(rows)}
    for path in paths:
        summary[f"{path}_rouge_l"] = round(statistics.mean(r[path]["rouge_l"] for r in rows), 3) if rows else None
    return {"summary": summary, "rows": rows}


def latency(pipeline: AskPipeline, clip: dict, root: Path) -> dict:
    audio = load_audio(root / clip["path"], limits=pipeline.limits)
    ten = Audio(np.resize(audio.samples, 160_000).astype(np.float32), 16_000, "10 s")
    instruction = "<speech>\nWhat is this about? Answer in a few words."
    out = {}
    for path in ("direct", "cascade"):
        pipeline.answer(ten, instruction, path, max_new_tokens=8)  # warm: the first call loads Whisper
        times = []
        for _ in range(3):
            started = time.perf_counter()
            pipeline.answer(ten, instruction, path, max_new_tokens=8)
            times.append(time.perf_counter() - started)
        out[f"{path}_10s_question_seconds"] = round(statistics.median(times), 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm", default="tiny")
    parser.add_argument("--adapter", help="default: the committed adapter for --lm")
    parser.add_argument("--dtype", default="auto")
    parser.add_argument("--set", type=Path, default=ROOT / "ask_set")
    parser.add_argument("--questions", type=int, default=0, help="at most this many dev questions (0: all)")
    parser.add_argument("--passages", type=int, default=20)
    parser.add_argument("--parts", default="alignment,questions,passages,latency", help="which parts to run")
    parser.add_argument(
        "--paths",
        default=",".join(PATHS),
        help="which paths to ask (e.g. 'direct' to compare adapters: the cascade does not depend on the adapter)",
    )
    parser.add_argument(
        "--questions-from-log", type=Path, help="take the question rows a run printed (its log) instead of asking"
    )
    parser.add_argument("--beam", type=int, help="CTC beam of the direct path (1: greedy; default: the head's own)")
    parser.add_argument("--lm-weight", type=float, help="the LLM's share in the beam (default: the head's own)")
    parser.add_argument("--length-bonus", type=float)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--keep",
        action="store_true",
        help="keep the parts of an existing --out file that this run does not redo (e.g. --parts latency on an idle "
        "machine after the rest ran beside a training job)",
    )
    args = parser.parse_args()
    pipeline = AskPipeline.from_pretrained(args.lm, adapter=args.adapter, dtype=args.dtype)
    given = {"beam": args.beam, "lm_weight": args.lm_weight, "length_bonus": args.length_bonus}
    listening = replace(pipeline.listening, **{k: v for k, v in given.items() if v is not None})
    pipeline.listening = listening
    clips = [c for c in json.loads((args.set / "manifest.json").read_text())["clips"] if c["split"] == "dev"]
    asked = [c for c in clips if c["kind"] == "question"]
    spoken = [c for c in clips if c["kind"] == "passage"]
    report = {"lm": pipeline.lm.name, "dtype": pipeline.lm.precision, "adapter": str(args.adapter or "committed")}
    report["listening"] = asdict(listening)
    parts, paths = args.parts.split(","), tuple(args.paths.split(","))
    if unknown := set(paths) - set(PATHS):
        parser.error(f"unknown paths {sorted(unknown)} (use {', '.join(PATHS)})")
    if "alignment" in parts:
        report["alignment"] = alignment(pipeline, asked, args.set)
    if args.questions_from_log:
        lines = args.questions_from_log.read_text().splitlines()
        rows = [json.loads(line) for line in lines if line.startswith('{"text"')]
        report["questions"] = summarise_questions(rows, len(asked[: args.questions or None]))
    elif "questions" in parts:
        report["questions"] = questions(pipeline, asked, args.set, args.questions, paths)
    if "passages" in parts:
        report["passages"] = passages(pipeline, spoken, args.set, args.passages, paths)
    if "latency" in parts:
        report["latency"] = latency(pipeline, spoken[0], args.set)
    out = args.out or ROOT / "bench_results" / f"ask_{args.lm}.json"
    if args.keep and out.exists():
        report = json.loads(out.read_text())["results"] | report
    write_result(out, report, {k: str(v) for k, v in vars(args).items()})
    print(json.dumps({k: v["summary"] for k, v in report.items() if isinstance(v, dict) and "summary" in v}))
    print(json.dumps(report.get("latency", {})))


if __name__ == "__main__":
    main()
