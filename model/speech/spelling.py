"""The alphabet of a character-level CTC head, and the way between it and text.

A head over the LLM's sub-word tokens learns a word only from hearing it (a country said a handful of times in
10,000 training clips is missed); a head over letters spells words it never heard from the sounds of others.
What is heard is written in lower case with the punctuation a listener can hear (pauses, a question's rise), and
given back to the LLM as a sentence would be written: capital first letters, "I" on its own.
"""

from __future__ import annotations

import re

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
