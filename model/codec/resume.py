"""A training run's state as a few small files that can be committed (or carried to a GPU machine) and resumed.

``state.pt`` in a run folder is exact but large (weights + two optimisers' moments, tens of MB) and pickled.
A pack splits it into safetensors files that each stay under ``max_bytes`` — weights in float32 (exact),
optimiser moments in bfloat16 (their range matters, not their last digits) — plus ``meta.json`` with the
step, the sampler's random state and both configs. ``unpack`` gives back a dict ``train`` resumes from.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

MAX_BYTES = 20 * 2**20  # well under the repository's 25 MB limit per file
_WEIGHTS = ("model", "critic")
_OPTIMISERS = ("optimizer", "critic_optimizer")


def _flatten_optimizer(state: dict) -> tuple[dict[str, torch.Tensor], dict]:
    tensors, scalars = {}, {}
    for index, slots in state["state"].items():
        for name, value in slots.items():
            if torch.is_tensor(value) and value.dim() > 0:
                tensors[f"{index}.{name}"] = value.to(torch.bfloat16)
            else:
                scalars[f"{index}.{name}"] = float(value)
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], meta: dict) -> dict:
    state: dict[int, dict] = {}
    for key, value in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = value.float()
    for key, value in meta["scalars"].items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = torch.tensor(value)
    return {"state": state, "param_groups": meta["param_groups"]}


def _write_shards(tensors: dict[str, torch.Tensor], folder: Path, stem: str, max_bytes: int) -> list[str]:
    """safetensors files ``stem-00.safetensors``, … each at most ``max_bytes`` (one tensor never splits)."""
    from safetensors.torch import save_file

    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for key, value in tensors.items():
        nbytes = value.numel() * value.element_size()
        if shards[-1] and size + nbytes > max_bytes:
            shards.append({})
            size = 0
        shards[-1][key] = value.contiguous()
        size += nbytes
    names = []
    for i, shard in enumerate(shards):
        names.append(f"{stem}-{i:02d}.safetensors")
        save_file(shard, folder / names[-1])
    return names


def pack(state: dict, folder: str | Path, max_bytes: int = MAX_BYTES) -> Path:
    """Write ``state`` (as ``train`` saves it) into ``folder``; returns the folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in folder.glob("*.safetensors"):
        old.unlink()
    tensors = {f"{part}/{k}": v.float() for part in _WEIGHTS for k, v in state[part].items()}
    meta = {"step": state["step"], "rng": state["rng"], "train_config": state["train_config"]}
    meta["codec_config"] = state["codec_config"]
    for part in _OPTIMISERS:
        moments, meta[part] = _flatten_optimizer(state[part])
        tensors |= {f"{part}/{k}": v for k, v in moments.items()}
    meta["files"] = _write_shards(tensors, folder, "state", max_bytes)
    (folder / "meta.json").write_text(json.dumps(meta))
    return folder


def unpack(folder: str | Path) -> dict:
    """The state dict ``pack`` wrote (moments back in float32)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / "meta.json").is_file():
        raise ValueError(f"{folder} is not a packed training state (no meta.json).")
    meta = json.loads((folder / "meta.json").read_text())
    tensors: dict[str, torch.Tensor] = {}
    for name in meta["files"]:
        tensors |= load_file(folder / name)
    parts: dict[str, dict[str, torch.Tensor]] = {part: {} for part in (*_WEIGHTS, *_OPTIMISERS)}
    for key, value in tensors.items():
        part, name = key.split("/", 1)
        parts[part][name] = value
    state = {part: parts[part] for part in _WEIGHTS}
    for part in _OPTIMISERS:
        state[part] = _unflatten_optimizer(parts[part], meta[part])
    return state | {k: meta[k] for k in ("step", "rng", "train_config", "codec_config")}
