"""The bad-input catalogue: every input a stranger might send, made on the fly (nothing large is committed), and
what each front-end (library, fewshot-v1 CLI, the running server) must answer.

    python -m tests.bad_inputs                # runs every case on all three front-ends, writes docs/bad-inputs.md

``tests/test_bad_inputs.py`` runs the same catalogue as tests: each refused case must raise (or answer) an error
matching its pattern, each accepted case must give a result, and a good request must succeed after every case.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import soundfile as sf

RATE = 16_000
APP_LIMIT_MB = 20  # the app's default upload limit (AppSettings.max_file_mb), also given to the library here
CLI_PROMPT_TOKENS = 160  # the CLI run's --max-prompt-tokens: its prompts are level 0 only (repeats collapsed), so small
ALL_LEVELS = "all"


@dataclass(frozen=True)
class Request:
    task: str  # classify | enhance | synthesize
    demos: list[tuple[str, str]]  # classify: (path, label); enhance: (noisy, clean); synthesize: (path, text)
    query: str  # a path (classify, enhance) or the text to speak (synthesize)
    levels: str = "0"  # the app's level choice (classify), as the API takes it
    labels: list[str] | None = None  # fewshot-v1's label list, when it differs from the demos' labels


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], Request]
    expect: str | None  # a regex the error must match; None: a valid (if unusual) input that must succeed
    per_front_end: dict[str, str | None] = field(default_factory=dict)  # overrides of ``expect``

    def expected(self, front_end: str) -> str | None:
        return self.per_front_end.get(front_end, self.expect)


# --- audio made on the fly ------------------------------------------------------------------------------------
def tone(freq: float, seconds: float = 0.8, rate: int = RATE) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def write(folder: Path, name: str, samples: np.ndarray, rate: int = RATE, **kwargs) -> str:
    path = folder / name
    sf.write(path, samples, rate, **kwargs)
    return str(path)


def good_demos(folder: Path) -> list[tuple[str, str]]:
    return [(write(folder, "yes_1.wav", tone(300)), "yes"), (write(folder, "no_1.wav", tone(900)), "no")]


def good_request(folder: Path) -> Request:
    return Request("classify", good_demos(folder), write(folder, "query.wav", tone(320)))


def _classify_query(make: Callable[[Path], str]) -> Callable[[Path], Request]:
    return lambda folder: Request("classify", good_demos(folder), make(folder))


def _bytes(name: str, data: bytes) -> Callable[[Path], str]:
    def make(folder: Path) -> str:
        (folder / name).write_bytes(data)
        return str(folder / name)

    return make


def _cut(name: str, keep: float, **kwargs) -> Callable[[Path], str]:
    def make(folder: Path) -> str:
        path = Path(write(folder, name, tone(440, 2.0), **kwargs))
        data = path.read_bytes()
        path.write_bytes(data[: int(len(data) * keep)])
        return str(path)

    return make


def _samples(name: str, samples: Callable[[], np.ndarray], rate: int = RATE, **kwargs) -> Callable[[Path], str]:
    return lambda folder: write(folder, name, samples(), rate, **kwargs)


def _with_value(value: float) -> np.ndarray:
    x = tone(440)
    x[100] = value
    return x


def _speechlike(seconds: float, seed: int) -> np.ndarray:
    """Tones that change every 80 ms: many distinct codec tokens (a long clip that does not collapse)."""
    rng = np.random.default_rng(seed)
    return np.concatenate([tone(f, 0.08) for f in rng.uniform(150, 3000, int(seconds / 0.08))])


def _labels(*labels: str) -> Callable[[Path], Request]:
    def build(folder: Path) -> Request:
        demos = [(write(folder, f"demo_{i}.wav", tone(300 + 200 * i)), label) for i, label in enumerate(labels)]
        return Request("classify", demos, write(folder, "query.wav", tone(320)))

    return build


def _too_many(count: int) -> Callable[[Path], Request]:
    def build(folder: Path) -> Request:
        yes, no = write(folder, "yes.wav", tone(300)), write(folder, "no.wav", tone(900))
        demos = [(yes, "yes") if i % 2 == 0 else (no, "no") for i in range(count)]
        return Request("classify", demos, write(folder, "query.wav", tone(320)))

    return build


def _longer_than_context(folder: Path) -> Request:
    demos = [(write(folder, f"long_{i}.wav", _speechlike(29.5, i)), ("yes", "no")[i % 2]) for i in range(6)]
    return Request("classify", demos, write(folder, "query.wav", tone(320)), levels=ALL_LEVELS)


def _enhance_lengths(folder: Path) -> Request:
    noisy, clean = write(folder, "noisy.wav", tone(300, 1.0)), write(folder, "clean.wav", tone(300, 2.0))
    return Request("enhance", [(noisy, clean)], write(folder, "query.wav", tone(300, 1.0)))


def _synthesis_unknown(folder: Path) -> Request:
    demos = [(write(folder, "one.wav", tone(300)), "one"), (write(folder, "two.wav", tone(600)), "two")]
    return Request("synthesize", demos, "one two seven")


SERVER_SIZE = r"over the 20 MB limit|exceeds|too large|413"
CASES = [
    Case("empty file (0 bytes)", _classify_query(_bytes("empty.wav", b"")), "empty"),
    Case(
        "text file named .wav",
        _classify_query(_bytes("notes.wav", b"this is not audio\n" * 50)),
        "could not be read as audio",
    ),
    Case("WAV cut off in its header", _classify_query(_cut("cut_head.wav", 0.0004)), "could not be read as audio"),
    Case("WAV cut off in its data", _classify_query(_cut("cut_data.wav", 0.4)), "cut off"),
    Case("truncated FLAC", _classify_query(_cut("cut.flac", 0.4)), "could not be read as audio"),
    Case("truncated OGG", _classify_query(_cut("cut.ogg", 0.4, format="OGG")), "could not be read as audio"),
    Case(
        "zero-length audio (valid header)",
        _classify_query(_samples("zero.wav", lambda: np.zeros(0, np.float32))),
        r"no (audio )?samples",
    ),
    Case("10 ms clip", _classify_query(_samples("blip.wav", lambda: tone(440, 0.01))), r"only 10 ms long"),
    Case(
        "40 s clip (over the 30 s maximum)",
        _classify_query(_samples("long.wav", lambda: tone(440, 40.0))),
        r"40\.0 s long, over the 30 s limit",
    ),
    Case(
        f"file over the {APP_LIMIT_MB} MB upload limit (96 kHz, 6 channels, float, 10 s)",
        _classify_query(
            _samples("huge.wav", lambda: np.stack([tone(440, 10.0, 96_000)] * 6, 1), 96_000, subtype="FLOAT")
        ),
        rf"over the {APP_LIMIT_MB} MB limit",
        {"server": SERVER_SIZE, "cli": None},  # the CLI reads local files: its limit is the library's 100 MB
    ),
    Case(
        "96 kHz, 6 channels",
        _classify_query(_samples("surround.wav", lambda: np.stack([tone(440, 1.0, 96_000)] * 6, 1), 96_000)),
        None,
    ),
    Case("8-bit unsigned WAV", _classify_query(_samples("u8.wav", lambda: tone(440), subtype="PCM_U8")), None),
    Case(
        "float WAV containing NaN",
        _classify_query(_samples("nan.wav", lambda: _with_value(np.nan), subtype="FLOAT")),
        "NaN or infinite",
    ),
    Case(
        "float WAV containing Inf",
        _classify_query(_samples("inf.wav", lambda: _with_value(np.inf), subtype="FLOAT")),
        "NaN or infinite",
    ),
    Case(
        "float WAV holding unscaled 16-bit values (peak 32767)",
        _classify_query(_samples("unscaled.wav", lambda: tone(440) * 65534, subtype="FLOAT")),
        "look unscaled",
    ),
    Case("digital silence", _classify_query(_samples("silence.wav", lambda: np.zeros(RATE, np.float32))), "silent"),
    Case(
        "DC offset only",
        _classify_query(_samples("dc.wav", lambda: np.full(RATE, 0.3, np.float32))),
        "constant level",
    ),
    Case(
        "clipped square wave",
        _classify_query(_samples("square.wav", lambda: np.clip(4 * np.sign(tone(200)), -1, 1))),
        None,
    ),
    Case(
        "empty label",
        _labels("yes", "  "),
        "needs a label",
        {"server": None},  # the app's table: a blank cell takes the label from the file name, as when first filled
    ),
    Case(
        "duplicate labels",
        lambda folder: replace(_labels("yes", "no", "yes")(folder), labels=["yes", "no", "yes"]),
        None,  # two demonstrations of "yes" are a 2-shot support set
        {"cli": "labels must not repeat"},  # fewshot-v1 names the labels itself: a repeat there is an error
    ),
    Case("unicode labels", _labels("héllo wörld", "日本語", "🎵"), None),
    Case("very long label (200 characters)", _labels("yes", "x" * 200), "must be short"),
    Case("a single class", _labels("yes", "yes"), "at least two different labels"),
    Case("more demonstrations than allowed (65 > 64)", _too_many(65), "at most 64 fit"),
    Case(
        "prompt longer than the LLM's context (6 × 29.5 s at all levels)",
        _longer_than_context,
        r"needs about [\d,]+ tokens.*To make it fit",
    ),
    Case("enhance pair whose clips differ in length", _enhance_lengths, "differ in length"),
    Case("synthesis text with a word not demonstrated", _synthesis_unknown, "No demonstration says 'seven'"),
]


# --- front-ends -----------------------------------------------------------------------------------------------
class Library:
    """The Python library, configured as the app configures it (upload size limit)."""

    name = "library"

    def __init__(self, pipeline):
        self.pipeline = pipeline

    @classmethod
    def load(cls, lm: str = "tiny") -> Library:
        from model.audio import AudioLimits
        from model.icl.pipeline import ICLPipeline

        limits = AudioLimits(max_file_bytes=APP_LIMIT_MB * 2**20)
        return cls(ICLPipeline.from_pretrained(lm, limits=limits))

    def send(self, request: Request) -> str:
        from app.handlers import levels_of
        from model.icl.pipeline import ClassifyOptions
        from model.icl.prompts import PromptOptions

        if request.task == "classify":
            levels = levels_of(request.levels, self.pipeline.codec.config.num_levels)
            options = ClassifyOptions(PromptOptions(levels=levels))
            return self.pipeline.classify(request.query, request.demos, options).label
        if request.task == "enhance":
            return f"{self.pipeline.enhance(request.demos, request.query).audio.duration:.2f} s"
        pairs = [(text, path) for path, text in request.demos]
        return f"{self.pipeline.synthesize(pairs, request.query).audio.duration:.2f} s"


class Server:
    """The running app, through gradio_client (the same calls a browser makes)."""

    name = "server"

    def __init__(self, url: str):
        from gradio_client import Client

        self.client = Client(url, verbose=False)

    def send(self, request: Request) -> str:
        from gradio_client import handle_file

        files = [handle_file(path) for path, _ in request.demos]
        table = {"headers": ["clip", "label"], "data": [[Path(p).name, t] for p, t in request.demos], "metadata": None}
        if request.task == "classify":
            answer = self.client.predict(
                files, table, handle_file(request.query), request.levels, 0, "direct", api_name="/classify"
            )[0]
            return answer["label"]
        if request.task == "enhance":
            noisy = [handle_file(n) for n, _ in request.demos]
            clean = [handle_file(c) for _, c in request.demos]
            return Path(self.client.predict(noisy, clean, handle_file(request.query), api_name="/enhance")[0]).name
        return Path(self.client.predict(files, table, request.query, api_name="/synthesize")[0]).name


def fewshot_line(request: Request, episode: str) -> str:
    labels = request.labels or list(dict.fromkeys(label for _, label in request.demos))
    return json.dumps(
        {
            "protocol": "fewshot-v1",
            "episode_id": episode,
            "task": "bad-input",
            "labels": labels,
            "support": [{"path": p, "label": label} for p, label in request.demos],
            "query": {"path": request.query},
        },
        ensure_ascii=False,
    )


def run_cli(cases: list[Case], folder: Path, lm: str = "tiny") -> dict[str, dict]:
    """One ``python -m model fewshot --jsonl`` process for all classify cases, a good line after each one.
    Returns each case's answer and the good line's answer after it, by case name."""
    lines, names = [], []
    for i, case in enumerate(cases):
        sub = folder / f"cli_{i}"
        sub.mkdir(exist_ok=True)
        request = case.build(sub)
        if request.task != "classify":
            continue
        lines += [fewshot_line(request, f"bad-{i}"), fewshot_line(good_request(sub), f"good-{i}")]
        names.append(case.name)
    command = [sys.executable, "-m", "model", "--lm", lm, "--max-prompt-tokens", str(CLI_PROMPT_TOKENS)]
    done = subprocess.run(
        [*command, "fewshot", "--jsonl"],
        input="\n".join(lines) + "\n",
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parent.parent,
        timeout=900,
        check=True,
    )
    answers = [json.loads(line) for line in done.stdout.splitlines()]
    return {name: {"answer": answers[2 * k], "next": answers[2 * k + 1]} for k, name in enumerate(names)}


def outcome(front_end, request: Request) -> tuple[str, str]:
    """('refused', message) or ('accepted', result); anything other than ValueError / a reported error escapes."""
    try:
        return "accepted", front_end.send(request)
    except ValueError as error:
        return "refused", str(error)
    except Exception as error:
        if type(error).__name__ == "AppError":  # gradio_client's wrapper of the server's gr.Error
            return "refused", str(error)
        raise


def matches(expected: str | None, kind: str, text: str) -> bool:
    return kind == "accepted" if expected is None else kind == "refused" and re.search(expected, text) is not None


def main() -> None:
    import tempfile

    from bench.serving import running_app

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("docs/bad-inputs.md"))
    parser.add_argument("--lm", default="tiny")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp, running_app("--lm", args.lm) as app:
        folder = Path(tmp)
        library, server = Library.load(args.lm), Server(app.url)
        cli = run_cli(CASES, folder, args.lm)
        for i, case in enumerate(CASES):
            sub = folder / f"case_{i}"
            sub.mkdir()
            request = case.build(sub)
            cells = []
            for front_end in (library, server):
                kind, text = outcome(front_end, request)
                good = outcome(front_end, good_request(sub))[0] == "accepted"
                ok = matches(case.expected(front_end.name), kind, text) and good
                cells.append(_cell(kind, text, ok, good))
            if case.name in cli:
                answer, after = cli[case.name]["answer"], cli[case.name]["next"]
                kind, text = ("refused", answer["error"]) if "error" in answer else ("accepted", answer["label"])
                good = "label" in after
                cells.append(_cell(kind, text, matches(case.expected("cli"), kind, text) and good, good))
            else:
                cells.append("— (fewshot-v1 is classification only)")
            rows.append(f"| {case.name} | " + " | ".join(cells) + " |")
            print(rows[-1], flush=True)
    header = [
        "# Bad input: what each front-end answers",
        "",
        "Generated by `python -m tests.bad_inputs` (the same catalogue runs as `tests/test_bad_inputs.py`), with the",
        f"bundled SmolLM2 (`--lm {args.lm}`) and the shipped codec. The library runs with the app's upload limit",
        f"({APP_LIMIT_MB} MB); the CLI with `--max-prompt-tokens {CLI_PROMPT_TOKENS}` (its prompts show level 0 only).",
        "✅ = the expected outcome, and a good request sent right after it succeeded.",
        "",
        "| input | library (`ValueError`) | server (`gr.Error` via gradio_client) | CLI (fewshot-v1 error line) |",
        "|---|---|---|---|",
    ]
    args.out.write_text("\n".join(header + rows) + "\n")
    print(f"wrote {args.out}")


def _cell(kind: str, text: str, ok: bool, good_after: bool) -> str:
    mark = "✅" if ok else "❌" + ("" if good_after else " (next request failed)")
    shown = text if len(text) < 400 else text[:397] + "…"
    return f"{mark} {kind}: {shown}".replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":
    main()
