"""Build ask_set/: spoken prompts for the speech adapter (training) and for bench/ask.py (development).

    python scripts/build_ask_set.py [--out ask_set] [--voices 24]

Text, all generated here or taken from Debian's ``fortunes-min`` (apt-get install fortunes-min):
* **questions with a definite one-word answer** from templates (capitals, colours, opposites, counts, the day or
  month that follows, animal sounds, small sums); each question text belongs to the training half or the
  development half (every second one is held out), so no development question is ever trained on;
* **sentences**: short fortunes, read with varied instructions (repeat, topic, one-word answer, …) — the
  distillation needs no labelled answers, only the LLM's own response to the transcript;
* **read-aloud text** (``--read``, kind ``read``, no instruction): training fortunes and WordNet's definitions
  (``wordnet-base``), for the adapter's alignment stage, which needs only transcripts;
* **word lists** (``--word-lists N``, none by default; kind ``read``): 6–10 words in a row, drawn from the words
  of WordNet's definitions with weight ∝ √(how often they occur there) — a CTC head learns a word only from hearing
  it, and the text above says a country or a month a handful of times in 10,000 clips. Measured: continuing the
  committed adapters on 5,000 of them lowered their development numbers (README, "Ask"), so they are opt-in;
* **passages**: several fortunes in a row, to summarise (development: ~550 characters, 30–45 s, from fortunes
  held out of training).

Voices: training clips use the codec's training voices (espeak-ng accents × variants, flite ``kal``) with random
speed and pitch, and a third of them get noise (8–25 dB SNR) or reverberation; development clips use the
development set's voices (flite awb, kal16 and 24 espeak-ng ones), which neither the codec nor the adapter
trains on. Writes ``manifest.json`` (path, text, instruction, kind, split, voice, answers).
"""

from __future__ import annotations

import argparse
import collections
import json
import math
import random
import re
from pathlib import Path

import numpy as np
import soundfile as sf

from demo_examples.build import DEV_VOICES, Voice, convert, speak, train_voices

FORTUNES = Path("/usr/share/games/fortunes")
WORDNET = Path("/usr/share/wordnet")
NUMBERS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve"]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
MONTHS = ["January", "February", "March", "April", "May", "June", "July", "August", "September", "October"]
MONTHS += ["November", "December"]
CAPITALS = {
    "France": "Paris", "Italy": "Rome", "Japan": "Tokyo", "Germany": "Berlin", "Spain": "Madrid",
    "England": "London", "Russia": "Moscow", "China": "Beijing", "Egypt": "Cairo", "Greece": "Athens",
    "Canada": "Ottawa", "Ireland": "Dublin", "Portugal": "Lisbon", "Austria": "Vienna", "Norway": "Oslo",
    "Sweden": "Stockholm", "Poland": "Warsaw", "Turkey": "Ankara", "India": "Delhi", "Kenya": "Nairobi",
}  # fmt: skip
COLOURS = {
    "the sky": "blue", "grass": "green", "snow": "white", "coal": "black", "a banana": "yellow",
    "blood": "red", "a lemon": "yellow", "milk": "white", "a tomato": "red", "the sun": "yellow",
    "a leaf": "green", "chocolate": "brown", "an orange": "orange", "a carrot": "orange",
}  # fmt: skip
OPPOSITES = {
    "hot": "cold", "up": "down", "big": "small", "day": "night", "open": "closed", "fast": "slow",
    "happy": "sad", "light": "dark", "old": "young", "left": "right", "black": "white", "wet": "dry",
    "early": "late", "full": "empty", "hard": "soft", "high": "low", "in": "out", "yes": "no",
    "good": "bad", "rich": "poor", "strong": "weak", "tall": "short", "win": "lose", "first": "last",
}  # fmt: skip
SOUNDS = {"a dog": ["bark", "woof"], "a cat": ["meow", "purr"], "a cow": ["moo"], "a duck": ["quack"],
          "a sheep": ["baa", "bleat"], "a lion": ["roar"], "a snake": ["hiss"], "an owl": ["hoot"]}  # fmt: skip
COUNTS = {
    "legs does a dog have": 4, "legs does a spider have": 8, "legs does a bird have": 2, "days are in a week": 7,
    "months are in a year": 12, "wheels does a bicycle have": 2, "legs does a cat have": 4, "eyes does a person "
    "have": 2, "sides does a triangle have": 3, "sides does a square have": 4, "wheels does a car have": 4,
    "fingers are on one hand": 5, "legs does an insect have": 6, "arms does an octopus have": 8,
}  # fmt: skip
SENTENCE_INSTRUCTIONS = [
    "Repeat exactly what is said: <speech>",
    "<speech>\nWhat is this about? Answer in a few words.",
    "Answer in one word: what is the main topic of this? <speech>",
    "Rewrite this as a short sentence: <speech>",
    "<speech>\nIs this a question or a statement?",
    "Continue this text: <speech>",
]
DEV_FORTUNES = 140  # held out for the development passages (20 of ~550 characters: 30-45 s)
QUESTION_INSTRUCTION = "Answer the question in one word. <speech>"
PASSAGE_INSTRUCTION = "Summarize in one sentence: <speech>"


def questions() -> list[tuple[str, list[str]]]:
    """(question, acceptable answers), in a fixed order."""
    out = [(f"What is the capital of {c}?", [a]) for c, a in CAPITALS.items()]
    out += [(f"What colour is {thing}?", [a]) for thing, a in COLOURS.items()]
    out += [(f"What is the opposite of {w}?", [a]) for w, a in OPPOSITES.items()]
    out += [(f"What sound does {animal} make?", a) for animal, a in SOUNDS.items()]
    out += [(f"How many {what}?", [NUMBERS[n], str(n)]) for what, n in COUNTS.items()]
    out += [(f"What day comes after {d}?", [DAYS[(i + 1) % 7]]) for i, d in enumerate(DAYS)]
    out += [(f"What month comes after {m}?", [MONTHS[(i + 1) % 12]]) for i, m in enumerate(MONTHS)]
    for a in range(1, 6):
        for b in range(1, 6):
            out.append((f"What is {NUMBERS[a]} plus {NUMBERS[b]}?", [NUMBERS[a + b], str(a + b)]))
    return out


def fortunes() -> list[str]:
    if not FORTUNES.is_dir():
        raise SystemExit("Install the fortunes: apt-get install fortunes-min")
    texts = []
    for name in ("fortunes", "literature", "riddles"):
        for entry in (FORTUNES / name).read_text(encoding="latin-1").split("\n%\n"):
            text = " ".join(entry.replace("--", " ").split())
            if 30 < len(text) < 200 and text.isascii():
                texts.append(text)
    return texts


def glosses() -> list[str]:
    """WordNet's noun and verb definitions as sentences ("A physical entity: an entity that has physical
    existence."): a wide vocabulary for the alignment stage (apt-get install wordnet-base)."""
    if not WORDNET.is_dir():
        raise SystemExit("Install WordNet: apt-get install wordnet-base")
    texts = []
    for name in ("data.noun", "data.verb"):
        for line in (WORDNET / name).read_text(encoding="latin-1").splitlines():
            if line.startswith(" ") or "|" not in line:
                continue  # the licence header
            lemma = line.split(" ", 5)[4].replace("_", " ")
            definition = line.split("|", 1)[1].split(";")[0].strip()
            text = f"{lemma[0].upper()}{lemma[1:]}: {definition}."
            if 30 < len(text) < 160 and text.isascii() and not any(c.isdigit() for c in lemma):
                texts.append(text)
    return texts


def gloss_words(minimum: int = 3) -> tuple[list[str], list[float]]:
    """The words of WordNet's definitions (as written: "Italy", "fingers", "wheels") used at least ``minimum``
    times, and a weight for each, √count: common words come back often, rare ones still now and then."""
    counts: collections.Counter[str] = collections.Counter()
    for name in ("data.noun", "data.verb", "data.adj", "data.adv"):
        for line in (WORDNET / name).read_text(encoding="latin-1").splitlines():
            if not line.startswith(" ") and "|" in line:
                counts.update(re.findall(r"\b[A-Za-z][a-z]+\b", line.split("|", 1)[1]))
    words = sorted(w for w, n in counts.items() if n >= minimum)
    return words, [math.sqrt(counts[w]) for w in words]


def word_list(words: list[str], weights: list[float], rng: random.Random) -> str:
    """6–10 words read as a list ("Kenya, wheels, carrot, …."): each word once, no sentence around it."""
    picked = rng.choices(words, weights, k=rng.randint(6, 10))
    text = ", ".join(picked)
    return f"{text[0].upper()}{text[1:]}."


def passage(texts: list[str], rng: random.Random, chars: int, reuse: bool = True) -> str:
    """Fortunes in a row until about ``chars`` characters (~15 a second): drawn at random, or used up in order."""
    picked: list[str] = []
    while texts and sum(len(t) for t in picked) < chars:
        picked.append(rng.choice(texts) if reuse else texts.pop())
    return " ".join(picked)


def augment(path: Path, rng: random.Random) -> str:
    """Noise at 8–25 dB SNR (white or low-passed), in place; returns what was done."""
    samples, rate = sf.read(path, dtype="float32")
    noise = np.random.default_rng(rng.randrange(2**31)).standard_normal(len(samples)).astype(np.float32)
    if rng.random() < 0.5:
        noise = np.cumsum(noise) / 30  # brown-ish
        noise -= np.convolve(noise, np.ones(401) / 401, mode="same")
    snr = rng.uniform(8, 25)
    gain = np.sqrt(np.mean(samples**2) / (np.mean(noise**2) + 1e-9) / 10 ** (snr / 10))
    mixed = samples + gain * noise
    sf.write(path, mixed / max(1.0, float(np.abs(mixed).max())), rate, subtype="PCM_16")
    return f"noise {snr:.0f} dB"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("ask_set"))
    parser.add_argument("--voices", type=int, default=24, help="training voices")
    parser.add_argument("--sentences", type=int, default=360, help="training sentences")
    parser.add_argument("--passages", type=int, default=40, help="training passages (dev: half as many)")
    parser.add_argument("--dev-voices", type=int, default=6, help="development voices per question (>= 4)")
    parser.add_argument("--read", type=int, default=10000, help="read-aloud clips for the alignment stage")
    parser.add_argument("--word-lists", type=int, default=0, help="read-aloud word lists (alignment stage; try 5000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    train, dev = train_voices(args.voices), list(DEV_VOICES)
    texts = fortunes()
    rng.shuffle(texts)
    clips: list[dict] = []

    def add(voice: Voice, text: str, instruction: str, kind: str, split: str, answers=(), augmented=True) -> None:
        rel = f"{split}/{kind}/{len(clips):05d}.flac"
        extra = None
        effect = ""
        if voice.tool == "espeak-ng" and split == "train":
            extra = ["-s", str(rng.randint(130, 200)), "-p", str(rng.randint(25, 75))]
        speak(voice, text, args.out / rel, extra)
        if split == "train" and augmented and rng.random() < 0.33:
            if rng.random() < 0.5:
                effect = augment(args.out / rel, rng)
            else:
                reverberant = (args.out / rel).with_suffix(".rev.flac")
                convert(args.out / rel, reverberant, trim=False, extra=("reverb", str(rng.randint(20, 60))))
                reverberant.replace(args.out / rel)
                effect = "reverb"
        clips.append(
            {"path": rel, "text": text, "instruction": instruction, "kind": kind, "split": split, "voice": voice.id,
             "answers": list(answers), "effect": effect}
        )  # fmt: skip

    dev_voices: dict[str, list[Voice]] = {}
    for i, (question, answers) in enumerate(questions()):
        held_out = i % 2 == 1
        voices = rng.sample(dev, 4) if held_out else rng.sample(train, 4)
        if held_out:
            dev_voices[question] = voices
        for voice in voices:
            add(voice, question, QUESTION_INSTRUCTION, "question", "dev" if held_out else "train", answers)
    held_out, pool = texts[:DEV_FORTUNES], texts[DEV_FORTUNES:]  # development passages' texts are never trained on
    for text in pool[: args.sentences]:
        for voice in rng.sample(train, 2):
            add(voice, text, rng.choice(SENTENCE_INSTRUCTIONS), "sentence", "train")
    for _ in range(args.passages):
        add(rng.choice(train), passage(pool, rng, rng.randint(250, 900)), PASSAGE_INSTRUCTION, "passage", "train")
    for _ in range(args.passages // 2):
        if held_out:  # stop when the held-out fortunes run out (never an empty passage)
            add(rng.choice(dev), passage(held_out, rng, 550, reuse=False), PASSAGE_INSTRUCTION, "passage", "dev")
    # Read-aloud text for the alignment stage (transcripts only, no instruction): half training fortunes, half
    # WordNet definitions. Drawn last, so the clips above stay the same whatever --read is.
    definitions = glosses()
    rng.shuffle(definitions)
    for i in range(args.read):
        text = pool[(i // 2) % len(pool)] if i % 2 == 0 else definitions[(i // 2) % len(definitions)]
        add(rng.choice(train), text, "", "read", "train")
    # More development voices per question (after everything else, so the training clips stay the same): with
    # 4 voices SmolLM2 gets only 76 of the 248 right from the text; the benchmark needs >= 100 such prompts.
    extra = random.Random(args.seed + 1)  # its own generator: these voices do not depend on --read
    for question, answers in questions():
        if question in dev_voices:
            others = [v for v in dev if v not in dev_voices[question]]
            for voice in extra.sample(others, args.dev_voices - 4):
                add(voice, question, QUESTION_INSTRUCTION, "question", "dev", answers)
    # Word lists last of all, so every clip above keeps its path and its audio whatever --word-lists is.
    vocabulary, weights = gloss_words()
    for _ in range(args.word_lists):
        add(rng.choice(train), word_list(vocabulary, weights, rng), "", "read", "train")
    (args.out / "manifest.json").write_text(json.dumps({"clips": clips}, indent=0))
    print(f"{len(clips)} clips in {args.out}")


if __name__ == "__main__":
    main()
