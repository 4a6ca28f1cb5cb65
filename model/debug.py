"""Tiny random stand-ins built from a config in memory (no files, no network): for fast tests and demos of wiring.

Like audiocraft's ``get_pretrained('debug')``: the real classes, with tiny sizes and random weights.
"""

from __future__ import annotations

import torch

from model.lm import FrozenLM
from model.vocab import VocabTables

DEBUG_TABLES = VocabTables(
    words=("bird", "cat", "dog", "fish", "horse", "mouse", "sheep", "zebra"),
    subwords=("ab", "ed", "er", "ing", "ly", "ous", "st", "un"),
)
_SPECIALS = ("<unk>", "<pad>", "<eos>")
_EXTRA = ("Input", ":", "Output", "###", "<", ">", "yes", "no", "one", "two", "Ċ")


def debug_tokenizer(tables: VocabTables = DEBUG_TABLES):
    """A byte-level word tokenizer whose vocabulary holds the tables' strings as single tokens."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    pieces = list(_SPECIALS) + ["Ġ" + w for w in tables.words] + list(tables.subwords)
    pieces += [p for p in _EXTRA if p not in pieces] + ["Ġ" + p for p in _EXTRA if "Ġ" + p not in pieces]
    vocab = {piece: i for i, piece in enumerate(dict.fromkeys(pieces))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    core.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>", pad_token="<pad>", eos_token="<eos>")


def debug_lm(seed: int = 0, tables: VocabTables = DEBUG_TABLES, context_length: int = 256) -> FrozenLM:
    """A 2-layer random Llama over ``debug_tokenizer``'s vocabulary."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = debug_tokenizer(tables)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=context_length,
        tie_word_embeddings=False,
    )
    torch.manual_seed(seed)
    return FrozenLM(LlamaForCausalLM(config), tokenizer, name="debug")
