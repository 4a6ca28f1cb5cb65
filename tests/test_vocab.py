from __future__ import annotations

import re

import pytest
import torch

from model.codec.codes import Codes
from model.vocab import VocabMap, VocabTables


def test_shipped_tables_are_words_and_subwords():
    tables = VocabTables.load()
    assert len(tables.words) > 10_000 and len(tables.subwords) > 5_000
    assert all(re.fullmatch(r"[a-z]{3,}", w) for w in tables.words)
    assert all(re.fullmatch(r"[a-z]{2,}", s) for s in tables.subwords)
    assert list(tables.words) == sorted(set(tables.words))
    assert {"cat", "dog", "seven", "music"} <= set(tables.words)


def test_table_hash_is_stable():
    # Changing the tables changes every codec checkpoint's meaning: this literal must change deliberately.
    assert VocabTables.load().hash == "116beb410508a83b"
    assert VocabTables(("cat",), ("ing",)).hash != VocabTables(("cat",), ("ed",)).hash


def test_level_tables(tiny_tables):
    assert tiny_tables.table(0) == tiny_tables.words
    assert tiny_tables.table(2) == tiny_tables.subwords
    assert tiny_tables.token_strings(0)[0] == " " + tiny_tables.words[0]
    with pytest.raises(ValueError):
        tiny_tables.table(-1)


def test_codes_token_ids_text_round_trip(tiny_tables, tiny_tokenizer):
    vocab = VocabMap.for_tokenizer(tiny_tables, tiny_tokenizer)
    codes = Codes((torch.tensor([1, 2, 1]), torch.tensor([0, 3, 3, 7, 5, 6]), torch.tensor([4] * 12)))
    ids = vocab.to_token_ids(codes)
    assert [len(i) for i in ids] == [3, 6, 12]
    assert tiny_tokenizer.decode(ids[0]) == " cat dog cat"
    assert tiny_tokenizer.decode(ids[1]) == "abingingunousst"
    back = vocab.codes_from_token_ids(ids)
    assert all(torch.equal(a, b) for a, b in zip(back.levels, codes.levels, strict=True))
    assert vocab.to_text(codes)[0] == ["cat", "dog", "cat"]
    assert set(vocab.token_ids(0).tolist()).isdisjoint(vocab.token_ids(1).tolist())


def test_bad_codes_and_foreign_ids_raise(tiny_tables, tiny_tokenizer):
    vocab = VocabMap.for_tokenizer(tiny_tables, tiny_tokenizer)
    with pytest.raises(ValueError, match=r"\[0, 8\)"):
        vocab.to_token_ids(Codes((torch.tensor([8]),)))
    subword_id = int(vocab.token_ids(1)[0])
    with pytest.raises(ValueError, match="not in level 0"):
        vocab.from_token_ids(0, torch.tensor([subword_id]))
    with pytest.raises(ValueError, match="not in level 1"):
        vocab.from_token_ids(1, torch.tensor([10_000_000]))


def test_tokenizer_that_splits_a_table_entry_is_refused(tiny_tokenizer):
    tables = VocabTables(words=("cat", "unknownword"), subwords=("ing",))
    with pytest.raises(ValueError, match="splits 1 table entries"):
        VocabMap.for_tokenizer(tables, tiny_tokenizer)


def test_codes_helpers():
    codes = Codes((torch.tensor([1]), torch.tensor([1, 2]), torch.tensor([1, 2, 3, 4])))
    assert codes.num_levels == 3 and codes.lengths() == [1, 2, 4]
    assert codes.upto(1).lengths() == [1, 2]
