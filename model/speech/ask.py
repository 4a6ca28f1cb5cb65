"""Ask a frozen LLM about a clip, two ways.

* **direct**: the clip's Whisper encoder frames, mapped by the trained adapter into the LLM's input-embedding
  space, take the place of ``<speech>`` in the instruction; the LLM answers as it would to the words.
* **cascade**: Whisper base transcribes the clip, the transcript takes that place as text (the honest baseline,
  and the fallback for audio longer than the direct path reads).

Both use the LLM's chat template; an instruction without ``<speech>`` gets the clip before it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from model.audio import Audio, AudioLimits, load_audio
from model.lm.frozen import FrozenLM
from model.speech.adapter import SpeechAdapter
from model.speech.ctc_beam import ctc_beam_search
from model.speech.features import SpeechFeatures
from model.speech.spelling import Lexicon, written
from model.speech.transcribe import Transcriber

SPEECH = "<speech>"
PATHS = ("direct", "cascade")
DEFAULT_ADAPTER = Path(__file__).resolve().parents[2] / "checkpoints" / "speech-adapter"
LIMITS = AudioLimits(max_seconds=90.0)  # 90 s of speech is ~1,100 embeddings: well inside the LLMs' contexts


@dataclass(frozen=True)
class AskResult:
    text: str  # the LLM's answer
    path: str  # "direct" or "cascade"
    transcript: str  # what was heard: Whisper's transcript (cascade), an aligned adapter's tokens (direct), or ""
    prompt_positions: int  # the LLM's input length: instruction + the clip as embeddings or transcript
    seconds: float


@dataclass(frozen=True)
class Listening:
    """How the direct path reads an aligned adapter's CTC head (over tokens, for adapters that read tokens, or
    over characters). ``beam`` 1: each frame's best label (greedy); more: the head's ``beam`` likeliest
    transcripts (``model.speech.ctc_beam``),
    of which the one with the best head log-probability + ``lm_weight`` × the LLM's log-probability of it in the
    instruction's place + ``length_bonus`` per token is read — the LLM knows which words fit where the head
    half-heard them (``bench.ask``: weights chosen on development questions, the model cards say which)."""

    beam: int = 8
    per_frame: int = 8  # the likeliest labels of each frame a beam may go on with
    lm_weight: float = 0.3
    length_bonus: float = 0.0


GREEDY = Listening(beam=1)
# a character head's beam holds spelling variants of one reading: a wider one, and more of the LLM's say, chosen on
# 100 development questions (checkpoints/speech-adapter-qwen2.5-coder-0.5b/README.md)
SPELLING = Listening(beam=16, lm_weight=0.6)


def listening_for(adapter: SpeechAdapter | None) -> Listening:
    """How an adapter's head is read unless told otherwise: ``SPELLING`` for a character head, else the default."""
    return SPELLING if adapter is not None and adapter.spells else Listening()


@dataclass(frozen=True)
class Framed:
    """An instruction in the chat template, split where the clip goes: ids before, ids after."""

    before: list[int]
    after: list[int]


class AskPipeline:
    """Frozen LLM + frozen Whisper encoder + trained adapter (direct) and a transcriber (cascade)."""

    def __init__(
        self,
        lm: FrozenLM,
        features: SpeechFeatures,
        adapter: SpeechAdapter | None,
        transcriber: Transcriber | None = None,
        limits: AudioLimits = LIMITS,
        listening: Listening | None = None,
        lexicon: Lexicon | None = None,
    ):
        if adapter is not None and adapter.config.lm_dim != lm.model.get_input_embeddings().weight.shape[1]:
            raise ValueError(
                f"The adapter writes {adapter.config.lm_dim}-d embeddings for {adapter.config.lm!r}; "
                f"{lm.name} reads {lm.model.get_input_embeddings().weight.shape[1]}-d ones. Use its own adapter."
            )
        self.lm, self.features, self.adapter, self.limits = lm, features, adapter, limits
        self.transcriber = transcriber or Transcriber()
        self.listening = listening or listening_for(adapter)
        self.lexicon = lexicon  # the words a character head's beam may write (None: any spelling)

    @classmethod
    def from_pretrained(
        cls,
        lm: str = "tiny",
        adapter: str | Path | None = None,
        device: str = "auto",
        dtype: str = "auto",
        listening: Listening | None = None,
    ) -> AskPipeline:
        """The bundled LLM ``lm`` with its committed adapter (``checkpoints/speech-adapter-<lm>``) when there is one."""
        language_model = FrozenLM.from_pretrained(lm, device=device, dtype=dtype)
        folder = Path(adapter) if adapter else DEFAULT_ADAPTER.with_name(f"speech-adapter-{language_model.name}")
        trained = SpeechAdapter.load(folder).to(language_model.device) if (folder / "adapter.json").exists() else None
        if adapter and trained is None:
            raise ValueError(f"{folder} is not a speech adapter.")
        layers = trained.config.encoder_layers if trained else 6
        features = SpeechFeatures(layers).to(language_model.device)
        device_name = "cuda" if language_model.device.type == "cuda" else "cpu"
        return cls(
            language_model,
            features,
            trained,
            Transcriber(device=device_name),
            listening=listening,
            lexicon=_lexicon_of(trained, folder),
        )

    @classmethod
    def beside(cls, lm: FrozenLM, fallback: str = "tiny") -> AskPipeline:
        """For the app: ``lm`` itself when an adapter was trained for it, else the ``fallback`` LLM with its own
        (SmolLM2-135M is small enough to hold beside the other), so the direct path is always there."""
        folder = DEFAULT_ADAPTER.with_name(f"speech-adapter-{lm.name}")
        if (folder / "adapter.json").exists():
            adapter = SpeechAdapter.load(folder).to(lm.device)
            features = SpeechFeatures(adapter.config.encoder_layers).to(lm.device)
            transcriber = Transcriber(device="cuda" if lm.device.type == "cuda" else "cpu")
            return cls(lm, features, adapter, transcriber, lexicon=_lexicon_of(adapter, folder))
        return cls.from_pretrained(fallback, device=str(lm.device))

    # --- prompts ---------------------------------------------------------------------------------------------------
    def frame(self, instruction: str) -> Framed:
        """``instruction`` (with ``<speech>`` where the clip goes) as the user's turn, split at the clip."""
        if not instruction.strip():
            raise ValueError("Write an instruction, e.g. 'Answer the question in one word: <speech>'.")
        if instruction.count(SPEECH) > 1:
            raise ValueError(f"Put {SPEECH} once in the instruction (where the clip goes).")
        content = instruction if SPEECH in instruction else f"{SPEECH}\n{instruction}"
        tokenizer = self.lm.tokenizer
        if getattr(tokenizer, "chat_template", None):
            rendered = tokenizer.apply_chat_template(
                [{"role": "user", "content": content}], tokenize=False, add_generation_prompt=True
            )
        else:  # tokenizers without a chat template (the tiny test ones)
            rendered = f"User: {content}\nAssistant:"
        before, _, after = rendered.partition(SPEECH)
        return Framed(self.lm.encode_text(before), self.lm.encode_text(after))

    def text_ids(self, framed: Framed, text: str) -> list[int]:
        return framed.before + self.lm.encode_text(text) + framed.after

    def embed_ids(self, ids: list[int]) -> torch.Tensor:
        table = self.lm.model.get_input_embeddings()
        return table(torch.tensor(ids, dtype=torch.long, device=self.lm.device))

    def speech_inputs(self, framed: Framed, speech: torch.Tensor) -> torch.Tensor:
        """(1, L, D) input embeddings: the instruction's text around the clip's speech embeddings (T', D)."""
        dtype = self.lm.model.get_input_embeddings().weight.dtype
        parts = [self.embed_ids(framed.before), speech.to(dtype), self.embed_ids(framed.after)]
        return torch.cat([p for p in parts if len(p)])[None]

    def speech_embeddings(self, samples: np.ndarray) -> torch.Tensor:
        """The adapter's every output for the clip (an aligned adapter's before compression)."""
        if self.adapter is None:
            raise ValueError(
                f"No speech adapter is trained for {self.lm.name}: use the cascade path, or train one with "
                "`python -m model.speech.train`."
            )
        with torch.no_grad():
            return self.adapter(self.features(samples).to(self.lm.device))

    def listen(self, samples: np.ndarray, framed: Framed | None = None) -> tuple[torch.Tensor, str]:
        """What the LLM reads in the clip's place and, for an aligned adapter, the tokens its head heard as text
        (with ``reads="tokens"``, exactly what the LLM reads; "" for an adapter without a head). ``framed``: the
        instruction around the clip, the context in which the LLM weighs the head's likeliest transcripts
        (``self.listening``; default: the clip alone as the user's turn)."""
        speech = self.speech_embeddings(samples)  # refuses a pipeline without an adapter
        table = self.lm.model.get_input_embeddings().weight
        config = self.adapter.config
        framed = framed or self.frame(SPEECH)
        if self.adapter.spells:
            ids = self.lm.encode_text(self._spelled_text(speech, framed))
            return table[ids].float(), self.lm.tokenizer.decode(ids).strip()
        if self.listening.beam > 1 and config.aligned and config.reads == "tokens":
            candidates = self._token_transcripts(speech, table)
            ids = candidates[self._choose(candidates, framed)][0] if candidates else []
            return table[ids].float(), self.lm.tokenizer.decode(ids).strip()
        with torch.no_grad():
            speech, heard = self.adapter.read(speech, table)
        return speech, self.lm.tokenizer.decode(heard).strip()

    def _token_transcripts(self, speech: torch.Tensor, table: torch.Tensor) -> list[tuple[list[int], float]]:
        """A token head's likeliest transcripts as (LLM token ids, head log-probability)."""
        with torch.no_grad():
            log_probs = self.adapter.token_logits(speech, table).log_softmax(-1)
        beams = ctc_beam_search(log_probs, self.listening.beam, self.listening.per_frame)
        vocabulary = self.adapter.vocabulary.tolist()
        return [([vocabulary[label - 1] for label in labels], score) for labels, score in beams if labels]

    def spelled(self, speech: torch.Tensor) -> list[tuple[str, float]]:
        """A character head's likeliest transcripts of (T, D) speech embeddings, written out
        (``model.speech.spelling``), with their head log-probability; ``beam`` 1: each frame's best character. The
        beam writes only words of the pipeline's lexicon where it has one, names with their capital."""
        with torch.no_grad():
            log_probs = self.adapter.character_logits(speech).log_softmax(-1)
        if self.listening.beam > 1:
            known = self.lexicon
            beams = ctc_beam_search(
                log_probs,
                self.listening.beam,
                self.listening.per_frame,
                allowed=known.allows if known else None,
                complete=known.complete if known else None,
            )
        else:
            best = torch.unique_consecutive(log_probs.argmax(-1))
            beams = [(tuple(best[best > 0].tolist()), float(log_probs.max(-1).values.sum()))]
        texts: dict[str, float] = {}
        for labels, score in beams:  # beams that differ only in stray spaces write the same text: keep the likeliest
            text = self.lexicon.capitalised(written(labels)) if self.lexicon else written(labels)
            if text and text not in texts:
                texts[text] = score
        return list(texts.items())

    def _spelled_text(self, speech: torch.Tensor, framed: Framed) -> str:
        """The reading of a character head the head and the LLM like best, then the writing of it the LLM likes
        best (``Lexicon.writings``: "china" or "China"; chosen apart, the words first, so that the LLM weighs few
        candidates at a time)."""
        readings = self.spelled(speech)
        if not readings:
            return ""
        heard = readings[self._choose([(self.lm.encode_text(t), score) for t, score in readings], framed)][0]
        writings = self.lexicon.writings(heard) if self.lexicon else [heard]
        return writings[self._choose([(self.lm.encode_text(t), 0.0) for t in writings], framed)]

    def _choose(self, candidates: list[tuple[list[int], float]], framed: Framed) -> int:
        """Which candidate transcript (LLM token ids, head log-probability) the head and the LLM together like
        best: head log-probability + ``lm_weight`` × the LLM's log-probability of it in the instruction's place."""
        listening = self.listening
        if len(candidates) <= 1:
            return 0
        # the tokens every candidate starts with add the same log-probability to each: read them once, as prefix
        shared = _shared_start([ids for ids, _ in candidates])
        rest = [ids[shared:] for ids, _ in candidates]
        lm_scores = self.lm.score(framed.before + candidates[0][0][:shared], rest).tolist()
        totals = [
            head + listening.lm_weight * lm + listening.length_bonus * len(ids)
            for (ids, head), lm in zip(candidates, lm_scores, strict=True)
        ]
        return int(np.argmax(totals))

    # --- answering -------------------------------------------------------------------------------------------------
    def load(self, source, name: str = "the clip") -> Audio:
        return load_audio(source, limits=self.limits, name=name)

    def load_array(self, samples: np.ndarray, sample_rate: int, name: str = "the recording") -> Audio:
        return load_audio(samples, sample_rate=sample_rate, limits=self.limits, name=name)

    def stream(
        self, source, instruction: str, path: str = "direct", max_new_tokens: int = 64
    ) -> Iterator[tuple[str, str]]:
        """Yield (answer so far, transcript) as each token is generated."""
        inputs, transcript = self.prepare(source, instruction, path)
        for text in self.generate(inputs, max_new_tokens):
            yield text, transcript

    def prepare(self, source, instruction: str, path: str) -> tuple[torch.Tensor, str]:
        """The LLM's input embeddings (1, L, D) for the clip and instruction, and the transcript (cascade)."""
        if path not in PATHS:
            raise ValueError(f"Unknown path {path!r}: use 'direct' or 'cascade'.")
        framed = self.frame(instruction)  # a bad instruction is refused before any audio work
        audio = self.load(source)
        if path == "direct":
            speech, heard = self.listen(audio.samples, framed)
            return self.speech_inputs(framed, speech), heard
        transcript = self.transcriber(audio.samples)
        return self.embed_ids(self.text_ids(framed, transcript))[None], transcript

    def answer(self, source, instruction: str, path: str = "direct", max_new_tokens: int = 64) -> AskResult:
        started = time.perf_counter()
        inputs, transcript = self.prepare(source, instruction, path)
        text = _last(self.generate(inputs, max_new_tokens))
        return AskResult(text.strip(), path, transcript, int(inputs.shape[1]), time.perf_counter() - started)

    def answer_text(self, text: str, instruction: str, max_new_tokens: int = 64) -> str:
        """The LLM's answer with ``text`` in the clip's place: the reference both paths are measured against."""
        inputs = self.embed_ids(self.text_ids(self.frame(instruction), text))[None]
        return _last(self.generate(inputs, max_new_tokens)).strip()

    def generate(self, inputs: torch.Tensor, max_new_tokens: int) -> Iterator[str]:
        """Greedy decoding from input embeddings (1, L, D); yields the decoded text after each new token."""
        ids: list[int] = []
        for token in self.generate_ids(inputs, max_new_tokens):
            ids.append(token)
            yield self.lm.tokenizer.decode(ids, skip_special_tokens=True)

    @torch.inference_mode()
    def generate_ids(self, inputs: torch.Tensor, max_new_tokens: int) -> Iterator[int]:
        """The greedy token ids after input embeddings (1, L, D), up to the LLM's stop token."""
        limit = self.lm.context_length - inputs.shape[1]
        if limit <= 0:
            raise ValueError(f"The prompt ({inputs.shape[1]} positions) fills the context of {self.lm.name}.")
        stops = self.stop_ids()
        out = self.lm.model(inputs_embeds=inputs, use_cache=True)
        for _ in range(min(max_new_tokens, limit)):
            token = int(out.logits[0, -1].argmax())
            if token in stops:
                break
            yield token
            step = torch.tensor([[token]], device=self.lm.device)
            out = self.lm.model(input_ids=step, past_key_values=out.past_key_values, use_cache=True)

    def stop_ids(self) -> set[int]:
        tokenizer = self.lm.tokenizer
        stops = {tokenizer.eos_token_id} if tokenizer.eos_token_id is not None else set()
        for token in ("<|im_end|>", "<|endoftext|>"):
            token_id = tokenizer.convert_tokens_to_ids(token)
            if isinstance(token_id, int) and token_id != tokenizer.unk_token_id:
                stops.add(token_id)
        return stops


def _lexicon_of(adapter: SpeechAdapter | None, folder: Path) -> Lexicon | None:
    """The lexicon a character adapter is read with (None for other adapters, which need none)."""
    return Lexicon.for_adapter(folder) if adapter is not None and adapter.spells else None


def _shared_start(rows: list[list[int]]) -> int:
    """How many leading ids all rows share, leaving each at least one of its own."""
    shared = min(len(row) for row in rows) - 1
    for i in range(max(shared, 0)):
        if any(row[i] != rows[0][i] for row in rows):
            return i
    return max(shared, 0)


def _last(texts: Iterator[str]) -> str:
    """The final value of a stream of growing answers ("" when the LLM stopped at once)."""
    last = deque(texts, maxlen=1)
    return last[0] if last else ""
