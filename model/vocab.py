"""Codebook tables taken from the LLM vocabulary, as strings: codes ↔ token ids ↔ text.

Level 0 reads as words: its table holds real lower-case English words that are a single space-prefixed token
in every supported tokenizer. Finer levels use the sub-word table (alphabetic pieces, no leading space).
Because the tables are strings, one codec serves every supported LLM: ``VocabMap`` binds them to one
tokenizer's ids. ``scripts/build_vocab_tables.py`` rebuilds the table files.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import torch

from model.codec.codes import Codes

TABLES_DIR = Path(__file__).parent / "tables"


@dataclass(frozen=True)
class VocabTables:
    """The two string tables. ``words`` are stored without their leading space."""

    words: tuple[str, ...]
    subwords: tuple[str, ...]

    @classmethod
    def load(cls, folder: Path = TABLES_DIR) -> VocabTables:
        def read(name: str) -> tuple[str, ...]:
            return tuple(line for line in (folder / name).read_text().splitlines() if line)

        return cls(read("words.txt"), read("subwords.txt"))

    def table(self, level: int) -> tuple[str, ...]:
        """Level 0 uses the word table; every finer level uses the sub-word table."""
        if level < 0:
            raise ValueError(f"Codec levels start at 0, got {level}.")
        return self.words if level == 0 else self.subwords

    def token_strings(self, level: int) -> list[str]:
        """The exact text of each table entry as it appears in a prompt (words carry their leading space)."""
        return [" " + w for w in self.words] if level == 0 else list(self.subwords)

    def to_text(self, codes: Codes) -> list[list[str]]:
        """Per level, the table strings of the codes (words without their leading space): needs no LLM."""
        out = []
        for level, level_codes in enumerate(codes.levels):
            table = self.table(level)
            if level_codes.numel() and (int(level_codes.min()) < 0 or int(level_codes.max()) >= len(table)):
                raise ValueError(f"Level {level} codes must lie in [0, {len(table)}).")
            out.append([table[i] for i in level_codes.tolist()])
        return out

    @cached_property
    def hash(self) -> str:
        """A stable 16-hex-digit fingerprint of both tables; a codec checkpoint records it."""
        text = "words\n" + "\n".join(self.words) + "\nsubwords\n" + "\n".join(self.subwords)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


class VocabMap:
    """The tables bound to one tokenizer: per level, table row ↔ LLM token id."""

    def __init__(self, tables: VocabTables, level_token_ids: list[torch.Tensor], vocab_size: int):
        self.tables = tables
        self._ids = level_token_ids[:2]  # (words, subwords) ids, row-aligned with the tables
        self._rows = [_inverse(ids, vocab_size) for ids in self._ids]

    @classmethod
    def for_tokenizer(cls, tables: VocabTables, tokenizer) -> VocabMap:
        """Look every string up in ``tokenizer``; raise ``ValueError`` if any is not exactly one token."""
        ids = []
        for level in (0, 1):
            strings = tables.token_strings(level)
            encoded = tokenizer(strings, add_special_tokens=False).input_ids
            decoded = tokenizer.batch_decode([e[:1] for e in encoded])  # catches <unk> and merged pieces
            broken = [s for s, e, d in zip(strings, encoded, decoded, strict=True) if len(e) != 1 or d != s]
            if broken:
                raise ValueError(
                    f"This LLM's tokenizer splits {len(broken)} table entries (e.g. {broken[:3]}) into several "
                    "tokens, so the codec cannot be used with it; choose a supported LLM."
                )
            ids.append(torch.tensor([e[0] for e in encoded], dtype=torch.long))
        return cls(tables, ids, len(tokenizer))

    def token_ids(self, level: int) -> torch.Tensor:
        """(table size,) LLM ids of the level's table: the allowed ids when generating that level."""
        self.tables.table(level)  # rejects a negative level
        return self._ids[min(level, 1)]

    def to_token_ids(self, codes: Codes) -> list[torch.Tensor]:
        """Per level, the (T_i,) LLM token ids of the codes."""
        return [self.token_ids(level)[self._checked(level, c)] for level, c in enumerate(codes.levels)]

    def from_token_ids(self, level: int, token_ids: torch.Tensor) -> torch.Tensor:
        """(T,) codes for ``token_ids`` of one level; ``ValueError`` if an id is not in that level's table."""
        token_ids = torch.as_tensor(token_ids, dtype=torch.long)
        rows = self._rows[min(level, 1)]
        inside = (token_ids >= 0) & (token_ids < rows.numel())
        codes = torch.full_like(token_ids, -1)
        codes[inside] = rows[token_ids[inside]]
        if (codes < 0).any():
            bad = token_ids[codes < 0][:3].tolist()
            raise ValueError(f"Token ids {bad} are not in level {level}'s table.")
        return codes

    def codes_from_token_ids(self, level_token_ids: list[torch.Tensor]) -> Codes:
        return Codes(tuple(self.from_token_ids(level, ids) for level, ids in enumerate(level_token_ids)))

    def to_text(self, codes: Codes) -> list[list[str]]:
        """Per level, the table strings of the codes (words without their leading space)."""
        return self.tables.to_text(codes)

    def _checked(self, level: int, codes: torch.Tensor) -> torch.Tensor:
        size = len(self.tables.table(level))
        if codes.numel() and (int(codes.min()) < 0 or int(codes.max()) >= size):
            raise ValueError(f"Level {level} codes must lie in [0, {size}); got {codes.min()}..{codes.max()}.")
        return codes


def _inverse(ids: torch.Tensor, vocab_size: int) -> torch.Tensor:
    """A dense id → row table (-1 where an id is not in the table)."""
    rows = torch.full((max(vocab_size, int(ids.max()) + 1),), -1, dtype=torch.long)
    rows[ids] = torch.arange(ids.numel())
    return rows


def check_codec_binding(config, vocab: VocabMap, lm_name: str) -> None:
    """Refuse to join a codec (its ``CodecConfig``) and an LLM that do not share its vocabulary.

    The codec's codes are rows of the string tables it was trained with (``config.tables_hash``); any LLM whose
    tokenizer holds those strings as single tokens can read them. For the LLM it was trained against
    (``config.lm``), the token ids must also be the recorded ones (``config.level_token_ids``)."""
    if vocab.tables.hash != config.tables_hash:
        raise ValueError(
            f"This codec was trained with vocabulary tables {config.tables_hash}, but the installed tables are "
            f"{vocab.tables.hash}: use the codec checkpoint that ships with this version."
        )
    if lm_name != config.lm:
        return
    for level, (rows, expected) in enumerate(zip(config.level_rows, config.level_token_ids, strict=True)):
        if vocab.token_ids(level)[torch.tensor(rows)].tolist() != list(expected):
            raise ValueError(
                f"The LLM's vocabulary does not match the codec's (level {level} token ids differ): "
                f"this codec needs the {config.lm} vocabulary."
            )
