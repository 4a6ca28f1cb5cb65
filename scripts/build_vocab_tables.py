"""Rebuild model/tables/{words,subwords}.txt: strings that are ONE token in every supported LLM tokenizer.

words    : real lower-case English words (in Debian's `wamerican` list, /usr/share/dict/american-english), at
           least 3 letters, that every tokenizer has as a single space-prefixed token (e.g. " cat").
subwords : purely alphabetic lower-case pieces (≥ 2 letters) that every tokenizer has as a single token with
           no leading space (e.g. "ing").

Qwen2.5-Coder-0.5B and -1.5B share one tokenizer, so the 0.5B stands for both. Run:
    apt-get install wamerican && python scripts/build_vocab_tables.py [--dictionary PATH] [--out model/tables]

The shipped codec records the tables' hash: changing the tables means training a new codec.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from transformers import AutoTokenizer

from model.lm import store as lm_store
from model.vocab import TABLES_DIR

DICTIONARY = Path("/usr/share/dict/american-english")
TOKENIZERS = ("qwen2.5-coder-0.5b", "smollm2-135m")


def single_token_strings(tokenizer, pattern: str, prefix: str) -> set[str]:
    """Vocabulary entries matching ``pattern`` that also encode back to exactly one token."""
    found = {token[len(prefix) :] for token in tokenizer.get_vocab() if re.fullmatch(pattern, token)}
    space = " " if prefix else ""
    return {s for s in found if len(tokenizer(space + s, add_special_tokens=False).input_ids) == 1}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dictionary", type=Path, default=DICTIONARY, help="word list, one word per line")
    parser.add_argument("--out", type=Path, default=TABLES_DIR)
    args = parser.parse_args()
    if not args.dictionary.is_file():
        parser.error(f"{args.dictionary} not found: install Debian's word list (apt-get install wamerican)")
    lines = args.dictionary.read_text().splitlines()
    dictionary = {w.strip() for w in lines if re.fullmatch(r"[a-z]+", w.strip())}
    tokenizers = [AutoTokenizer.from_pretrained(lm_store.prepare(lm_store.lookup(n))) for n in TOKENIZERS]
    words = set(dictionary)
    subwords: set[str] | None = None
    for tokenizer in tokenizers:
        words &= single_token_strings(tokenizer, r"Ġ[a-z]{3,}", "Ġ")
        pieces = single_token_strings(tokenizer, r"[a-z]{2,}", "")
        subwords = pieces if subwords is None else subwords & pieces
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "words.txt").write_text("\n".join(sorted(words)) + "\n")
    (args.out / "subwords.txt").write_text("\n".join(sorted(subwords)) + "\n")
    print(f"words: {len(words)}  subwords: {len(subwords)}  -> {args.out}")


if __name__ == "__main__":
    main()
