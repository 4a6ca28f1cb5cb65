"""Widget values ↔ library calls. The only module that raises ``gr.Error``: every library ``ValueError``
becomes a message the user can act on, and the server goes on serving."""

from __future__ import annotations

import contextlib
import functools
import hashlib
import inspect
import logging
import time
from collections.abc import Callable
from pathlib import Path

import gradio as gr
import numpy as np

from components.label_bars import attention_rows, label_bars
from components.spectrogram import spectrogram_image
from components.support_editor import labelled_files, rows_from_files
from components.token_view import level_view, token_view
from model.audio import Audio
from model.icl.pipeline import ClassifyOptions, ICLPipeline, SupportSet
from model.icl.prompts import PromptOptions
from model.lru import LRUCache
from model.speech.ask import AskPipeline

logger = logging.getLogger(__name__)
# (what the user reads, what the API takes): clients send the stable values, e.g. levels="0,1", scoring="channel".
# "all" means every level the loaded codec has (three for v1, five for v2 with its pitch level).
LEVEL_CHOICES = [("level 0 (words)", "0"), ("levels 0–1", "0,1"), ("all levels", "all")]
# The first is the app's default: channel scoring is far more accurate with many labels (5-way 1-shot spoken
# commands 0.72 vs 0.40, bench/fewshot.py) at about 3x the time, which a person waiting for one answer can spare.
SCORING_CHOICES = [
    ("read the clip after each label (channel, more accurate)", "channel"),
    ("write the label (direct, fast)", "direct"),
]
SUPPORT_SETS_KEPT = 8  # recently used support sets (their KV caches: a few MB each on the CPU)
PATH_CHOICES = [
    ("direct: the adapter turns the speech into the LLM's input embeddings", "direct"),
    ("cascade: Whisper transcribes, the LLM reads the transcript", "cascade"),
]


def choice_value(value, choices: list[tuple[str, str]], name: str) -> str:
    """The API value of a choice; a ``ValueError`` listing the valid values for anything else."""
    values = [v for _, v in choices]
    if value not in values:
        raise ValueError(f"Unknown {name} {str(value)[:40]!r}: use one of {', '.join(map(repr, values))}.")
    return value


def levels_of(value, num_levels: int) -> tuple[int, ...]:
    """The codec levels a levels choice names, for a codec with ``num_levels`` levels."""
    if choice_value(value, LEVEL_CHOICES, "levels") == "all":
        return tuple(range(num_levels))
    return tuple(int(level) for level in value.split(","))


def pair_by_name(noisy: list[str], clean: list[str]) -> list[tuple[str, str]]:
    """Pairs in the order of the uploaded files' names. Gradio keeps each upload's name but puts it in a folder
    named by its content hash, so sorting whole paths would pair clips by hash order."""
    if not noisy or len(noisy) != len(clean):
        raise ValueError(
            f"Give as many clean clips as noisy ones (now {len(noisy)} noisy, {len(clean)} clean); "
            "pairs are matched by file name order."
        )

    def by_name(paths: list[str]) -> list[str]:
        return sorted(paths, key=lambda p: (Path(p).name.lower(), p))

    return list(zip(by_name(noisy), by_name(clean), strict=True))


def _bar(progress: gr.Progress):
    """The library's progress callback, shown on Gradio's bar."""
    return lambda fraction, message: progress(fraction, desc=message)


def _content_key(path: str) -> str:
    return hashlib.sha1(Path(path).read_bytes()).hexdigest()


def user_errors(handler):
    """Turn a ``ValueError`` into a ``gr.Error`` with its message; log anything unexpected and say so. Works for
    streaming handlers (generators) too: their errors are raised while they run, not when they are called."""

    @contextlib.contextmanager
    def translated():
        try:
            yield
        except gr.Error:
            raise
        except ValueError as error:
            raise gr.Error(str(error), duration=None) from error
        except Exception as error:
            logger.exception("handler %s failed", handler.__name__)
            raise gr.Error(
                f"Something went wrong ({type(error).__name__}); the server is still running. "
                "Please try again or with other clips."
            ) from error

    if inspect.isgeneratorfunction(handler):

        @functools.wraps(handler)
        def streaming(*args, **kwargs):
            with translated():
                yield from handler(*args, **kwargs)

        return streaming

    @functools.wraps(handler)
    def wrapped(*args, **kwargs):
        with translated():
            return handler(*args, **kwargs)

    return wrapped


def to_widget(audio: Audio) -> tuple[int, np.ndarray]:
    """gr.Audio value: (rate, int16 samples); float clips are scaled so they never wrap around."""
    return audio.sample_rate, (np.clip(audio.samples, -1, 1) * 32767).astype(np.int16)


class Handlers:
    def __init__(
        self,
        pipeline: ICLPipeline,
        support_sets_kept: int = SUPPORT_SETS_KEPT,
        ask: Callable[[], AskPipeline] | None = None,
    ):
        self.pipeline = pipeline
        # The Ask tab's models (Whisper, the adapter, maybe a second small LLM) load on its first use.
        self._make_ask = ask or (lambda: AskPipeline.beside(pipeline.lm))
        self._ask: AskPipeline | None = None
        # Keyed by the clips' contents, their labels and the options: a second query against the same
        # demonstrations costs what the library's cached path costs, not a new support set.
        self._support_sets: LRUCache[SupportSet] = LRUCache(support_sets_kept)

    def _audio(self, value, name: str) -> Audio:
        """A widget's audio: a file path, or (sample rate, samples) as gr.Audio(type="numpy") gives it."""
        if isinstance(value, tuple | list) and len(value) == 2 and isinstance(value[1], np.ndarray):
            return self.pipeline.load(value[1], name=name, sample_rate=int(value[0]))
        return self.pipeline.load(value, name=f"{name} ({Path(str(value)).name})")

    def _texts(self, ids: list[int]) -> list[str]:
        return self.pipeline.lm.tokenizer.batch_decode([[i] for i in ids])

    def _view(self, prompt) -> list[tuple]:
        return token_view(prompt, self._texts)

    # --- classify ---------------------------------------------------------------------------------------------
    def demo_rows(self, files: list[str] | None, rows) -> list[list[str]]:
        """Refresh the label table when files are added or removed, keeping labels already typed."""
        return rows_from_files(files, rows)

    @user_errors
    def classify(self, files, rows, query, levels, clip_seconds=0, scoring=None, progress=gr.Progress()):
        if not files:
            raise ValueError("Drag in labelled demonstration clips first (at least one for each of two labels).")
        if not query:
            raise ValueError("Add a query clip (upload or record) to classify.")
        demos = labelled_files(files, rows)
        options = ClassifyOptions(
            PromptOptions(levels=levels_of(levels, self.pipeline.codec.config.num_levels)),
            clip_seconds=float(clip_seconds or 0) or None,
            scoring=choice_value(scoring or SCORING_CHOICES[0][1], SCORING_CHOICES, "scoring"),
        )
        progress(0.2, desc="Encoding the clips and reading the demonstrations")
        key = (tuple((_content_key(path), label) for path, label in demos), options)
        support = self._support_sets.get_or_make(key, lambda: self.pipeline.support_set(demos, options))
        progress(0.7, desc="Scoring every label")
        result = self.pipeline.classify(self._audio(query, "the query"), support)
        names = [Path(p).name for p, _ in demos]
        choices = ["query: " + (Path(query).name if isinstance(query, str) else "recording")] + [
            f"demo {i + 1}: {n}" for i, n in enumerate(names)
        ]
        return (
            label_bars(result),
            self._view(result.prompt),
            attention_rows(result, names, [lab for _, lab in demos]),
            gr.update(choices=choices, value=choices[0]),
            f"{result.seconds:.2f} s on {self.pipeline.lm.device}",
        )

    @user_errors
    def reconstruct(self, choice: str | None, files, query):
        """Play a clip as the codec hears it: encode, then decode all levels."""
        if not choice:
            raise ValueError("Classify first, then choose a clip to hear its reconstruction.")
        source = query if choice.startswith("query") else files[int(choice.split(":")[0].split()[1]) - 1]
        clip = self.pipeline.tokenize(self._audio(source, choice))
        return to_widget(self.pipeline.codec.decode(clip.codes))

    # --- enhance ----------------------------------------------------------------------------------------------
    @user_errors
    def enhance(self, noisy_files, clean_files, query, progress=gr.Progress()):
        pairs = pair_by_name(list(noisy_files or []), list(clean_files or []))
        if not query:
            raise ValueError("Add the noisy clip to enhance.")
        progress(0.05, desc="Encoding the clips; then the LLM writes clean tokens, level by level")
        before = self._audio(query, "the noisy clip")
        result = self.pipeline.enhance(pairs, before, progress=_bar(progress))
        return (
            to_widget(result.audio),
            to_widget(result.copy_audio),
            spectrogram_image(before.samples),
            spectrogram_image(result.audio.samples),
            self._view(result.prompt),
            self._generation_note(result, "the noisy clip's"),
        )

    # --- synthesize -------------------------------------------------------------------------------------------
    @user_errors
    def synthesize(self, files, rows, text, progress=gr.Progress()):
        if not files:
            raise ValueError("Drag in clips of single words (or digits) and type what each one says.")
        pairs = [(label, path) for path, label in labelled_files(files, rows)]
        progress(0.05, desc="Encoding the demonstrations; then the LLM writes each word's tokens")
        result = self.pipeline.synthesize(pairs, text or "", progress=_bar(progress))
        return (
            to_widget(result.audio),
            to_widget(result.copy_audio),
            self._view(result.prompt),
            self._generation_note(result, "the words'"),
        )

    def _generation_note(self, result, whose: str) -> str:
        """Timing, and how much of the codec-alone baseline's tokens the LLM wrote unchanged, per level."""
        kept = " · ".join(f"L{i} {share:.0%}" for i, share in enumerate(result.copy_accuracy))
        return f"generated in {result.seconds:.1f} s on {self.pipeline.lm.device} · tokens equal to {whose} own: {kept}"

    # --- ask ------------------------------------------------------------------------------------------------------
    @user_errors
    def ask(self, clip, instruction, path=None):
        """Stream (answer, transcript, status) while the LLM writes its answer about the clip."""
        if not clip:
            raise ValueError("Upload or record a spoken question or passage first.")
        path = choice_value(path or PATH_CHOICES[0][1], PATH_CHOICES, "path")
        if self._ask is None:
            self._ask = self._make_ask()
        asker = self._ask
        audio = self._ask_audio(asker, clip)
        started = time.perf_counter()
        text, transcript = "", ""
        yield "", "", f"listening ({path})…"
        for text, transcript in asker.stream(audio, instruction or "", path):
            yield text, transcript, "writing…"
        seconds = time.perf_counter() - started
        yield text, transcript, f"answered in {seconds:.1f} s by {asker.lm.name} on {asker.lm.device} ({path} path)"

    def _ask_audio(self, asker: AskPipeline, value) -> Audio:
        if isinstance(value, tuple | list) and len(value) == 2 and isinstance(value[1], np.ndarray):
            return asker.load_array(value[1], int(value[0]))
        return asker.load(value, name=f"the clip ({Path(str(value)).name})")

    # --- codec explorer ---------------------------------------------------------------------------------------
    @user_errors
    def explore(self, source):
        if not source:
            raise ValueError("Upload or record a clip to see its tokens.")
        clip = self.pipeline.tokenize(self._audio(source, "the clip"))
        codec, config = self.pipeline.codec, self.pipeline.codec.config
        full = codec.decode(clip.codes)  # the widgets: level 0, levels 0–1, all levels (any number of them)
        outputs = [to_widget(codec.decode(clip.codes.upto(level))) for level in (0, 1)] + [to_widget(full)]
        rates = " · ".join(
            f"L{i}: {r:.1f}/s ({len(w)} tokens)"
            for i, (r, w) in enumerate(zip(config.frame_rates, clip.text, strict=True))
        )
        stats = (
            f"**{config.tokens_per_second:.1f} tokens/s** ({rates}) · **{config.bitrate / 1000:.2f} kbit/s** · "
            f"{clip.audio.duration:.2f} s clip"
        )
        return (
            level_view(clip.text),
            spectrogram_image(clip.audio.samples),
            spectrogram_image(full.samples),
            *outputs,
            stats,
        )
