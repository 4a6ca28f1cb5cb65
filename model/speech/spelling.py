"""The alphabet of a character-level CTC head, and the way between it and text.

A head over the LLM's sub-word tokens learns a word only from hearing it (a country said a handful of times in
10,000 training clips is missed); a head over letters spells words it never heard from the sounds of others.
What is heard is written in lower case with the punctuation a listener can hear (pauses, a question's rise), and
given back to the LLM as a sentence would be written: capital first letters, "I" on its own.
"""

from __future__ import annotations

import re
from pathlib import Path

ALPHABET = " abcdefghijklmnopqrstuvwxyz'.,?"  # label 0 is CTC's blank; letter i is label i + 1
_INDEX = {c: i + 1 for i, c in enumerate(ALPHABET)}
_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


def spell(text: str) -> list[int]:
    """``text`` as CTC labels: lower case, digits said as words, other characters dropped, runs of spaces one."""
    text = re.sub(r"\d", lambda m: f" {_DIGITS[int(m.group())]} ", text.lower())
    text = re.sub(r"[-–—/:;!]", " ", text)  # word breaks a reader pauses at, not letters
    text = " ".join("".join(c for c in text if c in _INDEX).split())
    return [_INDEX[c] for c in text]


def written(labels: list[int] | tuple[int, ...]) -> str:
    """CTC labels (no blanks) → text as a sentence is written: stray spaces gone, each sentence's first letter
    and the word "i" in capitals."""
    text = "".join(ALPHABET[label - 1] for label in labels)
    text = " ".join(text.split())
    text = re.sub(r" ([.,?])", r"\1", text)
    text = re.sub(r"(^|[.?] )([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)
    return re.sub(r"\bi\b", "I", text)


_SEPARATORS = frozenset(_INDEX[c] for c in " .,?")
_SPACE = _INDEX[" "]
SYSTEM_WORDS = Path("/usr/share/dict/words")  # Debian's wamerican (packages.txt): 104 k words, names included
WORDS_NAME = "words.txt"  # beside a character adapter's weights: the words of its training transcripts


class Lexicon:
    """The words a character head may write: its CTC beam search (``ctc_beam_search(allowed=…, complete=…)``)
    grows a word only along the prefixes of known words, so it finds "the opposite" rather than "thorpesite" and
    "sound" rather than "soind", and the LLM then chooses among real sentences."""

    def __init__(self, words):
        written_as = [w for w in (word.strip() for word in words) if w and _spoken(w.lower())]
        self.words = frozenset(w.lower() for w in written_as)
        lower = {w for w in written_as if w == w.lower()}
        # words the lists also write with a capital: names only ever so ("Sweden"), others both ways ("China",
        # "March"); a small LLM asked for "the capital of sweden" answered "Paris", after "march", "March"
        self.capitals = {w.lower(): w for w in written_as if w != w.lower()}
        self.names = {k: v for k, v in self.capitals.items() if k not in lower}
        self.prefixes = frozenset(word[:i] for word in self.words for i in range(1, len(word) + 1))

    @classmethod
    def from_files(cls, *paths: str | Path) -> Lexicon | None:
        """The words of word lists, one a line (those of the paths that exist), or None where none does."""
        found = [Path(p) for p in paths if Path(p).is_file()]
        if not found:
            return None
        return cls(line for path in found for line in path.read_text(encoding="utf-8", errors="ignore").splitlines())

    @classmethod
    def for_adapter(cls, folder: str | Path) -> Lexicon | None:
        """A character adapter's lexicon: the system's word list and the words it was trained on, as its transcripts
        write them (``words.txt`` beside its weights: "colour" is British)."""
        return cls.from_files(SYSTEM_WORDS, Path(folder) / WORDS_NAME)

    def allows(self, labels: tuple[int, ...]) -> bool:
        """Whether CTC labels may grow this way: a letter continues a prefix of a word, a separator ends a whole
        word, and a space may follow a punctuation mark (no other separator follows another or starts the text)."""
        *before, newest = labels
        if newest not in _SEPARATORS:
            return _last_word(labels) in self.prefixes
        if before and before[-1] in _SEPARATORS:
            return newest == _SPACE and before[-1] != _SPACE
        return _last_word(tuple(before)) in self.words

    def capitalised(self, text: str, names_only: bool = True) -> str:
        """``text`` with each name written as the lists write it ("capital of sweden" → "capital of Sweden"), or
        with every word the lists also write with a capital (``names_only=False``: "after march" → "after March")."""
        table = self.names if names_only else self.capitals
        return re.sub(r"[a-z']+", lambda m: table.get(m.group(), m.group()), text)

    def writings(self, text: str) -> list[str]:
        """The ways to write a heard ``text`` for the LLM to choose among: names capitalised, and also every word
        that may take a capital ("china" or "China" is for the context to say)."""
        return list(dict.fromkeys([self.capitalised(text), self.capitalised(text, names_only=False)]))

    def complete(self, labels: tuple[int, ...]) -> bool:
        """Whether finished labels end in a whole word (or a separator)."""
        word = _last_word(labels)
        return not word or word in self.words

    def __len__(self) -> int:
        return len(self.words)


def _spoken(word: str) -> bool:
    """A word of (lower-case) letters and apostrophes only, as the head spells it."""
    return any(c.isalpha() for c in word) and all(c in _INDEX and _INDEX[c] not in _SEPARATORS for c in word)


def _last_word(labels: tuple[int, ...]) -> str:
    """The letters after the last separator."""
    start = len(labels)
    while start and labels[start - 1] not in _SEPARATORS:
        start -= 1
    return "".join(ALPHABET[label - 1] for label in labels[start:])
