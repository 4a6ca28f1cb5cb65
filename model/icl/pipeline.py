"""ICLPipeline: classify, enhance and synthesize audio with a frozen LLM and the LLM-vocabulary codec.

The LLM does the work: it reads demonstrations written in its own tokens and scores (classify) or writes
(enhance, synthesize) the answer. The instruction and demonstrations of a support set are run once and
their KV cache reused by every later query and every label candidate.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from model.audio import Audio, AudioLimits, join_with_pauses, load_audio
from model.codec.codes import Codes
from model.codec.model import LLMCodec
from model.icl.channel import ChannelSupport
from model.icl.context import ANSWER_RESERVE, Budget, ClipCost, check_classify_fits, check_generation_fits
from model.icl.prompts import Prompt, PromptBuilder, PromptOptions, audio_ids, concat, label_names
from model.icl.results import AudioResult, ClassifyResult, TokenizedClip
from model.icl.scorers import SCORERS, Calibration, PrefixState, Scorer, Scoring, parse_choice
from model.lm.frozen import FrozenLM, Prefix
from model.lru import LRUCache
from model.vocab import VocabMap, check_codec_binding

DEFAULT_CODEC = Path(__file__).resolve().parents[2] / "checkpoints" / "codec"
AudioLike = str | Path | Audio | np.ndarray
Progress = Callable[[float, str], None]  # (fraction done in [0, 1], what is happening): a UI's progress bar
DIGIT_WORDS = dict(enumerate(("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")))
# Synthesis keeps a demonstration's token where the LLM gives it at least e^-3 ≈ 5 % of its favourite's probability:
# its copy slips are mostly a repeated token written once too few (a level-0 run of two read as one), where both
# choices are likely; Qwen-0.5B's level-0 copy goes from 0.95 to 0.99 (bench/generation.py --tolerance).
# Enhancement keeps the noisy query's token on the same terms: greedy, the LLM rewrote 61 % of level 0 and lost
# intelligibility it could not restore (STOI 0.30; kept within 3 nats: 0.38, in two thirds of the time).
COPY_TOLERANCE = 3.0
# Synthesis decodes each word on its own and joins the words with a pause: decoded as one sequence, the codec's
# decoder smears each word into the next. Whisper heard 11 of 40 copied three-digit texts right decoded as one,
# 25 word by word, 28 / 31 / 31 with 0.1 / 0.2 / 0.3-s pauses (the raw clips joined: 26; bench/word_decoding.py).
WORD_PAUSE_SECONDS = 0.2


@dataclass(frozen=True)
class ClassifyOptions:
    """How to classify. Strings are accepted for the choices and checked here (``ValueError`` on a typo)."""

    prompt: PromptOptions = field(default_factory=PromptOptions)
    scoring: Scoring = Scoring.DIRECT  # direct | channel | greedy (the paper's), see ``scorers.py``
    calibration: Calibration | None = None  # direct scoring only: content_free (its default) or none
    clip_seconds: float | None = None  # cut every clip to this length (the paper's recipe uses 1 s)

    def __post_init__(self):
        scoring = parse_choice(Scoring, self.scoring, "scoring")
        object.__setattr__(self, "scoring", scoring)
        if self.calibration is not None:
            calibration = parse_choice(Calibration, self.calibration, "calibration")
            if scoring != Scoring.DIRECT and calibration != Calibration.NONE:
                raise ValueError(f"Calibration applies to direct scoring only, not to {scoring.value} scoring.")
            object.__setattr__(self, "calibration", calibration)
        if self.clip_seconds is not None and not self.clip_seconds > 0:
            raise ValueError(f"clip_seconds must be positive (or None to keep whole clips), got {self.clip_seconds}.")

    @property
    def calibrated(self) -> bool:
        return self.scoring == Scoring.DIRECT and self.calibration != Calibration.NONE


RECIPES = {
    "ours": ClassifyOptions(),
    # Levels 0 + 1. Codec v2: 2-way 1-shot commands 0.95 and sounds 0.72 on 100 dev episodes, against 0.91 (200
    # episodes) and 0.69 with level 0 alone (bench_results/fewshot_v2_*.json). v1: 0.86 against 0.82.
    "channel": ClassifyOptions(PromptOptions(levels=(0, 1)), scoring=Scoring.CHANNEL),
    # The paper's: level 0 only, clips cut to 1 s, greedy decoding restricted to label tokens, no calibration.
    "paper": ClassifyOptions(PromptOptions(collapse_repeats=False), scoring=Scoring.GREEDY, clip_seconds=1.0),
}


@dataclass(frozen=True)
class SupportSet:
    """A classification support set, prepared once by its scorer: reuse it for any number of queries."""

    labels: tuple[str, ...]
    names: tuple[str, ...]  # what the LLM writes for each label
    options: ClassifyOptions
    state: PrefixState | ChannelSupport  # the scorer's prepared state (cached instruction + demonstrations)
    clips: tuple[TokenizedClip, ...] = ()  # the demonstrations as encoded (to size a query against the context)

    @property
    def prompt(self) -> Prompt:
        return self.state.prompt


class ICLPipeline:
    """Frozen codec + frozen LLM. Build with ``from_pretrained``; the constructor is pure."""

    def __init__(
        self,
        codec: LLMCodec,
        lm: FrozenLM,
        vocab: VocabMap,
        limits: AudioLimits = AudioLimits(),
        max_demos: int = 64,
        cache_size: int = 2048,
        max_prompt_tokens: int | None = None,
    ):
        check_codec_binding(codec.config, vocab, lm.name)  # refuses an LLM whose vocabulary is not the codec's
        self.codec, self.lm, self.vocab, self.limits = codec, lm, vocab, limits
        self.max_demos = max_demos
        self.max_prompt_tokens = max_prompt_tokens  # below the LLM's context: bounds latency on a server
        self.builder = PromptBuilder(lm.encode_text)
        self._clips: LRUCache[TokenizedClip] = LRUCache(cache_size)  # thread-safe: a server may run requests at once

    @classmethod
    def from_pretrained(
        cls,
        lm: str = "default",
        codec: str | Path = DEFAULT_CODEC,
        device: str = "auto",
        dtype: str = "auto",
        vocoder: str = "hifigan",
        **kwargs,
    ) -> ICLPipeline:
        """``vocoder``: "hifigan" (the codec's tuned HiFi-GAN) or "istft" (the light path: an iSTFT vocoder and
        its own mel decoder)."""
        from model.vocab import VocabTables

        language_model = FrozenLM.from_pretrained(lm, device=device, dtype=dtype)
        codec_model = LLMCodec.from_pretrained(codec, device=language_model.device, vocoder=vocoder)
        vocab = VocabMap.for_tokenizer(VocabTables.load(), language_model.tokenizer)
        return cls(codec_model, language_model, vocab, **kwargs)

    @property
    def budget(self) -> Budget:
        """How many tokens a prompt may have: the LLM's context, or the smaller limit this pipeline was given."""
        context = self.lm.context_length
        if self.max_prompt_tokens and self.max_prompt_tokens < context:
            return Budget(self.max_prompt_tokens, "the prompt limit set by --max-prompt-tokens")
        return Budget(context, f"the context of {self.lm.name}")

    # --- clips ------------------------------------------------------------------------------------------------
    def load(self, source: AudioLike, name: str | None = None, sample_rate: int | None = None) -> Audio:
        return load_audio(source, sample_rate=sample_rate, limits=self.limits, name=name)

    def tokenize(self, source: AudioLike, name: str | None = None, clip_seconds: float | None = None) -> TokenizedClip:
        """Encode a clip (memoised by content) into codes, LLM token ids and text."""
        audio = self.load(source, name)  # an Audio object too: limits and silence are checked for every input
        if clip_seconds:
            audio = Audio(audio.samples[: int(clip_seconds * audio.sample_rate)], audio.sample_rate, audio.name)
        key = hashlib.sha1(audio.samples.tobytes()).hexdigest()

        def encode() -> TokenizedClip:
            codes = self.codec.encode(audio)
            return TokenizedClip(audio, codes, self.vocab.to_token_ids(codes), self.vocab.to_text(codes))

        return self._clips.get_or_make(key, encode)

    # --- classify ---------------------------------------------------------------------------------------------
    def scorer(self, scoring: Scoring) -> Scorer:
        return SCORERS[scoring](self.lm, self.builder)

    def support_set(
        self, demos: Sequence[tuple[AudioLike, str]], options: ClassifyOptions = ClassifyOptions()
    ) -> SupportSet:
        """Check and encode the demonstrations, build the prompt prefix and let the scorer prepare it once."""
        labels = _check_labels([label for _, label in demos], self.max_demos)
        names = label_names(labels, options.prompt)
        name_of = dict(zip(labels, names, strict=True))
        clips = [
            self.tokenize(audio, f"demonstration {i + 1}", options.clip_seconds) for i, (audio, _) in enumerate(demos)
        ]
        pieces = [
            (self._pieces(c, options.prompt), name_of[label.strip()])
            for c, (_, label) in zip(clips, demos, strict=True)
        ]
        prompt = self.builder.classify_prefix(pieces, names, options.prompt)
        self._check_fits(prompt, clips, options.prompt)
        state = self.scorer(options.scoring).prepare(prompt, pieces, names, options.prompt, options.calibrated)
        return SupportSet(tuple(labels), tuple(names), options, state, tuple(clips))

    def classify(
        self,
        query: AudioLike,
        support: SupportSet | Sequence[tuple[AudioLike, str]],
        options: ClassifyOptions | None = None,
        explain: bool = True,
    ) -> ClassifyResult:
        """The label of ``query`` given labelled demonstrations (or a ``SupportSet`` built earlier).
        ``explain`` adds the per-demonstration evidence (an extra LLM call for direct scoring)."""
        started = time.perf_counter()
        if not isinstance(support, SupportSet):
            support = self.support_set(support, options or ClassifyOptions())
        opts = support.options
        scorer = self.scorer(opts.scoring)
        clip = self.tokenize(query, "the query", opts.clip_seconds)
        pieces = self._pieces(clip, opts.prompt)
        query_tokens = sum(map(len, pieces)) + 2 * len(pieces)
        if scorer.prefix_length(support.state) + query_tokens + ANSWER_RESERVE > self.budget.tokens:
            self._check_fits(support.prompt, support.clips, opts.prompt, clip)
        decision = scorer.decide(support.state, support.names, pieces, opts.prompt, explain)
        best = int(torch.argmax(decision.probs))
        return ClassifyResult(
            support.labels[best],
            dict(zip(support.labels, decision.probs.tolist(), strict=True)),
            dict(zip(support.labels, decision.scores.tolist(), strict=True)),
            concat(support.prompt, decision.query),
            decision.evidence,
            scorer.evidence_kind,
            time.perf_counter() - started,
        )

    def _pieces(self, clip: TokenizedClip, options: PromptOptions) -> list[list[int]]:
        return audio_ids(clip.token_ids, options.levels, options.collapse_repeats)

    def _check_fits(
        self, prompt: Prompt, clips: Sequence[TokenizedClip], options: PromptOptions, query: TokenizedClip | None = None
    ) -> None:
        costs = [self._cost(c, options) for c in clips] * options.repeats
        fixed = len(prompt) - sum(c.tokens for c in costs)
        check_classify_fits(self.budget, fixed, costs, query and self._cost(query, options), options.levels)

    def _cost(self, clip: TokenizedClip, options: PromptOptions) -> ClipCost:
        """Tokens of a clip in a prompt (level separators included), with these levels and with level 0 only."""
        pieces = self._pieces(clip, options)
        level0 = audio_ids(clip.token_ids, (0,), options.collapse_repeats)
        return ClipCost(clip.audio.duration, sum(map(len, pieces)) + 2 * len(pieces), len(level0[0]) + 2)

    # --- enhance and synthesize -------------------------------------------------------------------------------
    def enhance(
        self,
        pairs: Sequence[tuple[AudioLike, AudioLike]],
        query: AudioLike,
        levels: tuple[int, ...] | None = None,
        progress: Progress | None = None,
        tolerance: float = COPY_TOLERANCE,
        query_tokens_only: bool = True,
    ) -> AudioResult:
        """Clean tokens for a noisy ``query``, learned from (noisy, clean) demonstration pairs. ``levels``: the
        codec levels the LLM writes (all by default); ``progress(fraction, message)`` is told after each level;
        ``tolerance`` keeps the query's own token wherever the LLM rates it within that many nats of its
        favourite (0: plain greedy choices); ``query_tokens_only`` lets each level choose only among the tokens
        the noisy query uses at that level (the LLM still chooses every token; free to write any token, it
        copied the demonstration's clean answer — another recording — on some clips: 20 development clips,
        STOI 0.38 free, 0.45 from the query's tokens, 0.48 the codec's copy; bench/generation.py)."""
        started = time.perf_counter()
        levels = levels or self.all_levels
        if not pairs:
            raise ValueError("Give at least one (noisy, clean) demonstration pair.")
        demos = []
        for i, (noisy, clean) in enumerate(pairs):
            noisy_clip, clean_clip = (
                self.tokenize(noisy, f"noisy clip {i + 1}"),
                self.tokenize(clean, f"clean clip {i + 1}"),
            )
            if abs(noisy_clip.audio.duration - clean_clip.audio.duration) > 0.1:
                raise ValueError(
                    f"Pair {i + 1}: the noisy clip ({noisy_clip.audio.duration:.2f} s) and the clean clip "
                    f"({clean_clip.audio.duration:.2f} s) differ in length; use two versions of one recording."
                )
            demos.append(
                (
                    self.builder.input_audio(audio_ids(noisy_clip.token_ids, levels, False), levels, i),
                    audio_ids(clean_clip.token_ids, levels, False),
                )
            )
        prefix_prompt = self.builder.pair_prefix(
            demos, levels, "Remove the noise: rewrite each noisy clip as clean audio."
        )
        clip = self.tokenize(query, "the noisy query")
        query_prompt = self.builder.input_audio(audio_ids(clip.token_ids, levels, False), levels, None)
        lengths = [len(clip.token_ids[level]) for level in levels]
        needed = len(prefix_prompt) + len(query_prompt) + sum(lengths) + 4 * len(levels)
        check_generation_fits(self.budget, needed, "enhancement")
        report = _reporter(progress, 0.0, 1.0, "the clean clip")
        # The query's own tokens are the draft: where the clean clip keeps them, they are checked in one pass.
        drafts = audio_ids(clip.token_ids, levels, False)
        prefix = self.lm.prefix(prefix_prompt.ids)
        allowed = [torch.tensor(sorted(set(ids))) for ids in drafts] if query_tokens_only else None
        codes, tail = self._generate_codes(prefix, query_prompt, levels, lengths, report, drafts, allowed, tolerance)
        codes = Codes(codes.levels, clip.codes.num_samples)
        copy = Codes(tuple(clip.codes.levels[level] for level in levels), clip.codes.num_samples)
        audio = self.codec.decode(codes)
        prompt = concat(prefix_prompt, tail)
        return AudioResult(audio, codes, prompt, time.perf_counter() - started, copy, self.codec.decode(copy))

    def synthesize(
        self,
        pairs: Sequence[tuple[str, AudioLike]],
        text: str,
        levels: tuple[int, ...] | None = None,
        progress: Progress | None = None,
        remind: bool = True,
        demonstrated_only: bool = True,
        tolerance: float = COPY_TOLERANCE,
    ) -> AudioResult:
        """Audio for ``text``, a sequence of words (or digits) each demonstrated by a (text, audio) pair.
        ``progress(fraction, message)`` is told after each level of each word; ``remind`` repeats each word's
        demonstration just before the LLM writes it (with codec v1 Qwen-0.5B then copied 97 / 94 / 100 % of the
        codes of levels 0 / 1 / 2, against 61 / 44 / 47 % from the demonstrations alone: bench/generation.py);
        ``demonstrated_only`` lets each level choose only among the tokens that word's demonstration uses at
        that level (the LLM still chooses every token and their order). The demonstration is also the draft
        the LLM's choices are checked against, several tokens per pass, and ``tolerance`` keeps a
        demonstration's token wherever the LLM rates it within that many nats of its favourite
        (``FrozenLM.generate``; 0: plain greedy choices)."""
        started = time.perf_counter()
        levels = levels or self.all_levels
        said, demo_of = [], {}
        for i, (demo_text, audio) in enumerate(pairs):
            words = normalise_text(demo_text)
            if not words:
                raise ValueError(f"Pair {i + 1} has no text; write the words spoken in its clip.")
            said.append((" ".join(words), self.load(audio, f"demonstration {i + 1}")))  # every clip is checked
            demo_of.setdefault(" ".join(words), i)
        words = normalise_text(text)
        missing = sorted({w for w in words if w not in demo_of})
        if not words or missing:
            raise ValueError(
                f"No demonstration says {', '.join(map(repr, missing)) or 'anything'}: synthesis copies "
                f"demonstrated words. Known words: {', '.join(sorted(demo_of))}."
            )
        # Reminded, the prompt holds only the words the text uses, so only their clips are encoded.
        used = set(range(len(pairs))) if not remind else {demo_of[w] for w in words}
        known: dict[str, TokenizedClip] = {}
        demos: dict[int, tuple[str, list[int]]] = {}
        for i in sorted(used):
            words_said, audio = said[i]
            clip = self.tokenize(audio, f"demonstration {i + 1}")
            known.setdefault(words_said, clip)
            demos[i] = (self.builder.input_text(words_said, i), audio_ids(clip.token_ids, levels, False))
        # Each word is generated after the same prefix, then (``remind``) its own demonstration right before the
        # query: a small LLM copies what it has just read far better than what lies far back. Reminded, the other
        # words' demonstrations only cost time (the prompt would grow with the demonstrations, not the text).
        prefix_prompt = self.builder.pair_prefix(
            [] if remind else list(demos.values()), levels, "Speak each text as audio tokens."
        )
        longest = max(2 * sum(len(known[w].token_ids[level]) + 4 for level in levels) for w in words)
        check_generation_fits(self.budget, len(prefix_prompt) + longest + 16, "synthesis")
        prefix = self.lm.prefix(prefix_prompt.ids)
        parts, prompt = [], prefix_prompt
        written: dict[str, tuple[Codes, Prompt, Prompt]] = {}  # a word's prompt, hence its greedy tokens, never vary
        for i, word in enumerate(words):  # one word at a time: each copies its demonstration's tokens
            report = _reporter(progress, i / len(words), 1 / len(words), f"word {i + 1} of {len(words)} ({word!r})")
            if word in written:
                for k in range(len(levels)):
                    report(k + 1, len(levels))
            else:
                lengths = [len(known[word].token_ids[level]) for level in levels]
                reminder = Prompt()
                if remind:
                    reminder = self.builder.pair(*demos[demo_of[word]], levels, demo_of[word])
                drafts = audio_ids(known[word].token_ids, levels, False)
                allowed = [torch.tensor(sorted(set(ids))) for ids in drafts] if demonstrated_only else None
                query = self.builder.input_text(word, None)
                codes, tail = self._generate_codes(
                    prefix, query, levels, lengths, report, drafts, allowed, tolerance, before=reminder
                )
                written[word] = (Codes(codes.levels, known[word].codes.num_samples), reminder, tail)
            codes, reminder, tail = written[word]
            parts.append(codes)
            prompt = concat(prompt, reminder, tail)
        codes = Codes.joined(parts)
        copies = {
            w: Codes(tuple(known[w].codes.levels[lv] for lv in levels), known[w].codes.num_samples) for w in written
        }
        copy = Codes.joined([copies[w] for w in words])
        audio = self._spoken(words, {w: codes for w, (codes, _, _) in written.items()})
        copy_audio = self._spoken(words, copies)
        return AudioResult(audio, codes, prompt, time.perf_counter() - started, copy, copy_audio)

    def _spoken(self, words: Sequence[str], codes_of: dict[str, Codes]) -> Audio:
        """The words' codes decoded one word at a time (each distinct word once), joined with pauses."""
        decoded = {word: self.codec.decode(codes) for word, codes in codes_of.items()}
        rate = next(iter(decoded.values())).sample_rate
        pieces = [decoded[word].samples for word in words]
        return Audio(join_with_pauses(pieces, round(WORD_PAUSE_SECONDS * rate)), rate)

    @property
    def all_levels(self) -> tuple[int, ...]:
        return tuple(range(self.codec.config.num_levels))

    def _generate_codes(
        self,
        prefix: Prefix,
        query_prompt: Prompt,
        levels: Sequence[int],
        lengths: list[int],
        report: Callable[[int, int], None] = lambda done, total: None,
        drafts: Sequence[Sequence[int]] | None = None,
        allowed: Sequence[torch.Tensor] | None = None,
        tolerance: float = 0.0,
        before: Prompt | None = None,
    ) -> tuple[Codes, Prompt]:
        """After ``prefix`` (+ ``before``) + the query, generate each level's tokens in turn, constrained to that
        level's codes (or to ``allowed[k]``, a subset of them) and of the given length, with a separator between
        levels; ``drafts[k]`` (each of its level's length): the ids the LLM is expected to copy. All levels are
        one ``FrozenLM.generate`` call — the separators are steps allowed one token, the drafts joined with them
        — so a draft the LLM keeps is checked in a few long passes across levels. ``before`` runs in the same
        pass as the query. Returns the codes and the prompt tail (query + generated tokens; not ``before``)."""
        tail = concat(query_prompt)
        tail.add(self.builder.output_open(), "text")
        state = self.lm.extend(prefix, [*(before.ids if before is not None else []), *tail.ids])
        separator = self.builder.text(" |")
        steps: list[torch.Tensor] = []  # what each generated position may be
        draft: list[int] = []  # what each is expected to be (used only when ``drafts`` is given)
        starts, ends = [], []  # each level's span in the generated sequence
        for k, (level, length) in enumerate(zip(levels, lengths, strict=True)):
            if k:
                steps += [torch.tensor([token]) for token in separator]
                draft += separator
            starts.append(len(steps))
            steps += [allowed[k] if allowed is not None else self._allowed_ids(level)] * length
            ends.append(len(steps))
            if drafts is not None:
                if len(drafts[k]) != length:
                    raise ValueError(f"Level {level}: a draft of {len(drafts[k])} tokens for {length} to write.")
                draft += list(drafts[k])

        finished = 0

        def told(done: int) -> None:  # once per level, as its last token is chosen
            nonlocal finished
            while finished < len(ends) and done >= ends[finished]:
                finished += 1
                report(finished, len(levels))

        ids = self.lm.generate(
            state, steps, len(steps), draft=draft if drafts is not None else None, tolerance=tolerance, progress=told
        )
        level_ids = [ids[start:end] for start, end in zip(starts, ends, strict=True)]
        for k, (level, written) in enumerate(zip(levels, level_ids, strict=True)):
            if k:
                tail.add(separator, "text")
            tail.add(written.tolist(), "answer", level=level)
        codes = Codes(
            tuple(self.vocab.from_token_ids(level, ids) for level, ids in zip(levels, level_ids, strict=True))
        )
        return codes, tail

    def _allowed_ids(self, level: int) -> torch.Tensor:
        """LLM ids of the table rows this codec uses at ``level``."""
        return self.vocab.token_ids(level)[torch.tensor(self.codec.config.level_rows[level])]


def _reporter(progress: Progress | None, start: float, span: float, what: str) -> Callable[[int, int], None]:
    """A per-level callback that tells ``progress`` how far the whole task is."""

    def report(done: int, total: int) -> None:
        if progress is not None:
            progress(start + span * done / total, f"{what}: level {done} of {total} written")

    return report


def normalise_text(text: str) -> list[str]:
    """Lower-case words; digits become words ("3 1" → ["three", "one"])."""
    words = []
    for token in re.findall(r"[^\W_]+", text.lower()):
        words.extend(DIGIT_WORDS[int(d)] for d in token) if token.isdigit() else words.append(token)
    return words


def _check_labels(labels: Sequence[str], max_demos: int) -> list[str]:
    """The distinct labels in first-seen order, or a ``ValueError`` saying what to fix."""
    if len(labels) > max_demos:
        raise ValueError(f"{len(labels)} demonstrations given; at most {max_demos} fit. Remove some.")
    cleaned = [label.strip() if isinstance(label, str) else "" for label in labels]
    if any(not label for label in cleaned):
        raise ValueError("Every demonstration needs a label (one is empty).")
    if too_long := [label for label in cleaned if len(label) > 40]:
        raise ValueError(f"Labels must be short (≤ 40 characters): {too_long[0][:50]!r}…")
    distinct = list(dict.fromkeys(cleaned))
    if len(distinct) < 2:
        raise ValueError("Give demonstrations of at least two different labels.")
    return distinct
