"""Saving and loading a codec: safetensors weights + config.json; the codebook rows come from the LLM at load."""

from __future__ import annotations

from pathlib import Path

import torch

from model.codec.model import CONFIG_NAME, WEIGHTS_NAME, CodecConfig, LLMCodec
from model.lm import store as lm_store
from model.vocab import VocabMap, VocabTables


def save_codec(codec: LLMCodec, folder: str | Path, dtype: torch.dtype = torch.float16) -> Path:
    """Write the trainable weights (not the frozen rows, not the vocoder) and the config."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to(dtype).contiguous() for k, v in codec.state_dict().items() if not k.startswith("vocoder.")
    }
    save_file(state, folder / WEIGHTS_NAME, metadata={"format": "pt"})
    codec.config.save(folder / CONFIG_NAME)
    return folder


def codebook_rows(config: CodecConfig, tokenizer, embeddings: torch.Tensor, tables: VocabTables) -> list[torch.Tensor]:
    """The frozen rows of every level, after checking that this LLM's vocabulary is the one trained against."""
    if tables.hash != config.tables_hash:
        raise ValueError(
            f"This codec was trained with vocabulary tables {config.tables_hash}, but the installed tables "
            f"are {tables.hash}: use the codec checkpoint that ships with this version."
        )
    vocab = VocabMap.for_tokenizer(tables, tokenizer)
    rows = []
    for level, (table_rows, expected) in enumerate(zip(config.level_rows, config.level_token_ids, strict=True)):
        ids = vocab.token_ids(level)[torch.tensor(table_rows)]
        if ids.tolist() != list(expected):
            raise ValueError(
                f"The LLM's vocabulary does not match the codec's (level {level} token ids differ): "
                f"this codec needs the {config.lm} vocabulary."
            )
        rows.append(embeddings[ids].float())
    return rows


def load_codec(
    folder: str | Path,
    semantic=None,
    vocoder=None,
    tokenizer=None,
    embeddings=None,
    tables: VocabTables | None = None,
    device: str | torch.device = "cpu",
) -> LLMCodec:
    """Load a saved codec. By default the codebook rows are read from the cached ``config.lm`` and the real
    speech embedder and HiFi-GAN vocoder are used; tests inject tiny stand-ins."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / CONFIG_NAME).is_file() or not (folder / WEIGHTS_NAME).is_file():
        raise ValueError(f"{folder} is not a codec checkpoint (needs {CONFIG_NAME} and {WEIGHTS_NAME}).")
    config = CodecConfig.load(folder / CONFIG_NAME)
    if tokenizer is None or embeddings is None:
        tokenizer, embeddings = lm_store.tokenizer_and_embeddings(config.lm)
    if semantic is None:
        from model.codec.semantic import SpeechEmbedder

        semantic = SpeechEmbedder()
    if vocoder is None:
        from model.codec.vocoder import load_hifigan

        vocoder = load_hifigan()
    codec = LLMCodec(config, semantic, vocoder)
    state = {k: v.float() for k, v in load_file(folder / WEIGHTS_NAME).items()}
    missing, unexpected = codec.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.startswith(("vocoder.", "mel."))]
    if missing or unexpected:
        raise ValueError(
            f"{folder} does not fit this codec's architecture (missing {missing[:3]}, unexpected {unexpected[:3]})."
        )
    codec.set_codebook_rows(codebook_rows(config, tokenizer, embeddings, tables or VocabTables.load()))
    return codec.eval().to(device)
