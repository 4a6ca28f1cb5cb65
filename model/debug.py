"""Tiny random stand-ins built from a config in memory (no files, no network): for fast tests and demos of wiring.

Like audiocraft's ``get_pretrained('debug')``: the real classes, with tiny sizes and random weights.
"""

from __future__ import annotations

import torch

from model.lm.frozen import FrozenLM
from model.vocab import VocabTables

DEBUG_TABLES = VocabTables(
    words=("bird", "cat", "dog", "fish", "horse", "mouse", "sheep", "zebra"),
    subwords=("ab", "ed", "er", "ing", "ly", "ous", "st", "un"),
)
_SPECIALS = ("<unk>", "<pad>", "<eos>")
_EXTRA = ("Input", ":", "Output", "###", "<", ">", "yes", "no", "one", "two", "Ċ", *"ABCDEFGH")


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


def debug_semantic(samples):
    """A stand-in speech embedder: log-energy of 4 bands in every 80-ms frame → (ceil(N / 1280), 4)."""
    import math

    import numpy as np

    frames = math.ceil(len(samples) / 1280)
    padded = np.pad(samples, (0, frames * 1280 - len(samples))).reshape(frames, 1280)
    spectrum = np.abs(np.fft.rfft(padded, axis=1)) ** 2
    bands = np.stack([band.sum(axis=1) for band in np.array_split(spectrum, 4, axis=1)], axis=1)
    return np.log(bands + 1e-6).astype(np.float32)


def debug_codec(seed: int = 0, lm: FrozenLM | None = None, pitch_stride: int = 0):
    """A tiny random codec over ``DEBUG_TABLES`` with a random 'vocoder'; codebook rows from ``lm``'s embeddings.
    ``pitch_stride`` adds a pitch level of 7 bins (the 8 sub-word rows) at that many mel frames per code."""
    from model.codec.model import CodecConfig, LLMCodec
    from model.codec.train import codebook_rows
    from model.vocab import VocabMap

    lm = lm or debug_lm(seed)
    vocab = VocabMap.for_tokenizer(DEBUG_TABLES, lm.tokenizer)
    rows = [[0, 2, 3, 5, 7], [0, 1, 2, 3, 4, 5], [2, 3, 4, 5, 6, 7]] + ([list(range(8))] if pitch_stride else [])
    config = CodecConfig(
        lm="debug",
        tables_hash=DEBUG_TABLES.hash,
        level_rows=rows,
        level_token_ids=[vocab.token_ids(i)[torch.tensor(r)].tolist() for i, r in enumerate(rows)],
        row_dim=lm.model.config.hidden_size,
        semantic_dim=4,
        latent_dim=16,
        hidden=16,
        encoder_blocks=1,
        decoder_blocks=1,
        code_dim=4,
        pitch_stride=pitch_stride,
        pitch_bins=7,
    )
    torch.manual_seed(seed)
    vocoder = torch.nn.ConvTranspose1d(80, 1, kernel_size=256, stride=256)
    codec = LLMCodec(config, debug_semantic, vocoder)
    codec.set_codebook_rows(codebook_rows(config, lm.tokenizer, lm.embeddings(), DEBUG_TABLES))
    generator = torch.Generator().manual_seed(seed)
    centroids = torch.randn(len(rows[0]), config.semantic_dim, generator=generator)
    codec.level0.fit(centroids, mean=torch.full((4,), 2.0), std=torch.full((4,), 4.0))  # debug_semantic's scale
    return codec.eval()


def debug_pipeline(seed: int = 0, max_demos: int = 64):
    """A complete pipeline of tiny random parts: for wiring tests of the library, the CLI and the app."""
    from model.audio import AudioLimits
    from model.icl.pipeline import ICLPipeline
    from model.vocab import VocabMap

    lm = debug_lm(seed, context_length=2048)
    codec = debug_codec(seed, lm)
    limits = AudioLimits(max_seconds=10.0)
    return ICLPipeline(codec, lm, VocabMap.for_tokenizer(DEBUG_TABLES, lm.tokenizer), limits, max_demos)
