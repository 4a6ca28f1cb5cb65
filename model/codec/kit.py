"""The GPU kit: what a short codec training session on a lent GPU machine needs, small enough to travel.

The device tool sends the working tree (64 MiB in all) and brings back at most 8 files of 16 MiB. The tree
already holds the committed training state (``checkpoints/codec2-run``, ~30 MiB), so the kit adds only what
the tree lacks and the GPU machine cannot compute without our wheels and the LLM:

* the acoustic levels' code vectors (what the state's learned maps make of the LLM's embedding rows: 0.26 MB
  where the rows themselves, even in int8, take 7 MB). The maps therefore stay as they are during a kit session
  — they are 8 × 896 numbers per level, settled long ago — and everything else trains;
* training crops' targets: log-mels quantised to 7 bits, delta-coded along time and LZMA-compressed (the
  quantisation error, 0.03 on average, is far below the losses trained against), with each clip's level-0
  codes precomputed here — the GPU machine needs neither Whisper nor the audio. As many clips as the budget
  allows, drawn at random (seeded), so speech, noisy speech and sounds keep their shares;
* a few development clips, scored on the machine by log-mel L1 with level 0, levels 0–1 and all levels.

    python -m model.codec.kit pack --out kit                                   # here: ~6 MiB, ~1 min
    python -m model.codec.kit train --kit kit --minutes 8 --out "$OUT"          # there: CUDA (or --device cpu)

``train`` resumes the committed state, trains for the given wall time, evaluates before and after, and writes
to ``--out``: the exported checkpoint (``checkpoint/``, fp16, ~9 MB), the new training state packed in
files under 16 MiB (``state/``: resume it here with ``python -m model.codec.train --run … --resume-from``),
and ``kit_result.json`` (steps, speed, losses, evaluations).
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import lzma
import random
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from model.codec.model import CodecConfig, LLMCodec

logger = logging.getLogger("model.codec.kit")

MEL_FLOOR, MEL_TOP = -11.5, 3.0  # log-mel range: the floor is log(1e-5), speech peaks near 2
_LEVELS = 127  # 7 bits: 17 % smaller than 8 with the stream compressed, error 0.03 against losses of 0.7
_FILTERS = [{"id": lzma.FILTER_DELTA, "dist": 80}, {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]
DEFAULT_STATE = "checkpoints/codec2-run"
CARRY_BYTES = 63 * 2**20  # the device tool's 64 MiB for the tree and what it carries, less a margin
RETURN_SHARD_BYTES = 15 * 2**20  # the device tool brings back files of at most 16 MiB


def default_budget(root: Path = Path(".")) -> int:
    """What the kit may take: the device tool's limit less the tracked files that travel with it anyway."""
    import subprocess

    try:
        files = subprocess.run(["git", "ls-files", "-z"], cwd=root, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return 24 * 2**20  # not a git checkout: the size measured with the 2026-12 tree
    tracked = sum((root / name).stat().st_size for name in files.decode().split("\0") if (root / name).is_file())
    return CARRY_BYTES - tracked


# --- compact storage -----------------------------------------------------------------------------------------
def encode_mels(mels: list[torch.Tensor]) -> bytes:
    """(80, T_i) log-mels → one LZMA stream of 7-bit frames, delta-coded along time (``decode_mels`` inverts)."""
    frames = [_quantise(m).T for m in mels]
    data = np.ascontiguousarray(np.concatenate(frames)) if frames else np.zeros((0, 80), np.uint8)
    return lzma.compress(data.tobytes(), format=lzma.FORMAT_RAW, filters=_FILTERS)


def decode_mels(blob: bytes, lengths: list[int], bins: int = 80) -> list[torch.Tensor]:
    data = np.frombuffer(lzma.decompress(blob, format=lzma.FORMAT_RAW, filters=_FILTERS), np.uint8)
    frames = data.reshape(-1, bins)
    if len(frames) != sum(lengths):
        raise ValueError(f"The kit's mel stream holds {len(frames)} frames, its index {sum(lengths)}.")
    starts = np.cumsum([0, *lengths])
    scale = (MEL_TOP - MEL_FLOOR) / _LEVELS
    return [torch.from_numpy(frames[a:b].T * scale + MEL_FLOOR).half() for a, b in itertools.pairwise(starts)]


def _quantise(mel: torch.Tensor) -> np.ndarray:
    scaled = (mel.float().numpy() - MEL_FLOOR) / (MEL_TOP - MEL_FLOOR) * _LEVELS
    return np.clip(np.round(scaled), 0, _LEVELS).astype(np.uint8)


# --- the kit on disk ------------------------------------------------------------------------------------------
@dataclass
class Kit:
    """A loaded kit: training items (mel, level-0 codes, speech flag), dev items, the acoustic levels' code
    vectors and the state path."""

    items: list[dict]
    dev: list[dict]
    vectors: list[torch.Tensor]
    state: Path
    meta: dict


def pack_kit(
    items: list[dict],
    dev: list[dict],
    vectors: list[torch.Tensor],
    state: str,
    out: str | Path,
    max_bytes: int = 24 * 2**20,
    seed: int = 0,
) -> dict:
    """Write a kit into ``out``: ``items`` and ``dev`` are dicts with "mel" (80, T), "codes" (T0,) and
    "speech"; ``vectors`` the acoustic levels' code vectors (K_i, code_dim); ``state`` the packed training
    state's path relative to the repository root (it travels with the tree). Training items are kept, in a
    seeded random order, while the folder stays under ``max_bytes``. Returns the summary (also in meta.json)."""
    from safetensors.torch import save_file

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file({f"level{i}": v.float().contiguous() for i, v in enumerate(vectors, 1)}, out / "vectors.safetensors")
    dev_blob = encode_mels([it["mel"] for it in dev])
    (out / "dev.xz").write_bytes(dev_blob)
    fixed = (out / "vectors.safetensors").stat().st_size + len(dev_blob) + _extra_bytes(dev) + 1024
    order = list(range(len(items)))
    random.Random(seed).shuffle(order)
    budget = max_bytes - fixed
    if budget <= 0:
        raise ValueError(f"The kit's code vectors and dev clips alone take {fixed} bytes, more than --max-mb allows.")
    chosen = _fit_budget([items[i] for i in order], budget)
    blob = encode_mels([it["mel"] for it in chosen])
    (out / "train.xz").write_bytes(blob)
    codes = {f"train{i}": it["codes"].to(torch.int16) for i, it in enumerate(chosen)}
    codes |= {f"dev{i}": it["codes"].to(torch.int16) for i, it in enumerate(dev)}
    # F0 per mel frame as float16 log2 Hz, 0 where unvoiced: what the pitch level is coded from
    codes |= {f"f0train{i}": _f0(it) for i, it in enumerate(chosen) if "log2_f0" in it}
    codes |= {f"f0dev{i}": _f0(it) for i, it in enumerate(dev) if "log2_f0" in it}
    save_file({k: v.contiguous() for k, v in codes.items()}, out / "codes.safetensors")
    frames = sum(it["mel"].shape[-1] for it in chosen)
    meta = {
        "state": state,
        "train": [{"frames": it["mel"].shape[-1], "speech": bool(it["speech"])} for it in chosen],
        "dev": [{"frames": it["mel"].shape[-1], "speech": bool(it["speech"])} for it in dev],
        "summary": {
            "train_items": len(chosen),
            "train_items_available": len(items),
            "train_minutes": round(frames / 86.13 / 60, 1),
            "share_of_frames": round(frames / max(1, sum(it["mel"].shape[-1] for it in items)), 3),
            "dev_items": len(dev),
        },
    }
    (out / "meta.json").write_text(json.dumps(meta))
    meta["summary"]["bytes"] = sum(f.stat().st_size for f in out.iterdir())
    (out / "meta.json").write_text(json.dumps(meta))
    return meta["summary"]


def _f0(item: dict) -> torch.Tensor:
    return torch.where(item["voiced"] > 0.5, item["log2_f0"].float(), 0.0).half()


def _extra_bytes(items: list[dict]) -> int:
    """What items cost besides their mels: int16 codes, float16 F0 per frame, a safetensors header entry and
    a meta.json entry each."""
    return sum(2 * len(it["codes"]) + 2 * len(it.get("log2_f0", ())) + 200 for it in items)


def _fit_budget(items: list[dict], budget: int) -> list[dict]:
    """The longest prefix of ``items`` that fits ``budget`` (bytes per frame estimated, then each guess checked)."""

    def size(prefix: list[dict]) -> int:
        return len(encode_mels([it["mel"] for it in prefix])) + _extra_bytes(prefix)

    sample = items[: max(1, len(items) // 10)]
    per_frame = size(sample) / max(1, sum(it["mel"].shape[-1] for it in sample))
    count = len(items)
    while count > 0:
        frames = np.cumsum([it["mel"].shape[-1] for it in items[:count]])
        count = min(count, int(np.searchsorted(frames, budget / (per_frame * 1.02), side="right")))
        if count and (used := size(items[:count])) <= budget:
            return items[:count]
        per_frame = used / frames[count - 1] if count else per_frame
    raise ValueError("Not even one training clip fits the kit's budget: raise --max-mb.")


def load_kit(folder: str | Path) -> Kit:
    from safetensors.torch import load_file

    folder = Path(folder)
    if not (folder / "meta.json").is_file():
        raise ValueError(f"{folder} is not a GPU kit (no meta.json): make one with `python -m model.codec.kit pack`.")
    meta = json.loads((folder / "meta.json").read_text())
    codes = load_file(folder / "codes.safetensors")
    stored = load_file(folder / "vectors.safetensors")
    vectors = [stored[f"level{i}"] for i in range(1, len(stored) + 1)]

    def items(kind: str, blob: bytes) -> list[dict]:
        mels = decode_mels(blob, [it["frames"] for it in meta[kind]])
        out = []
        for i, (mel, it) in enumerate(zip(mels, meta[kind], strict=True)):
            item = {"mel": mel, "codes": codes[f"{kind}{i}"].long(), "speech": it["speech"]}
            if f"f0{kind}{i}" in codes:
                f0 = codes[f"f0{kind}{i}"]
                item |= {"log2_f0": torch.where(f0 > 0, f0, 7.5).half(), "voiced": (f0 > 0).half()}
            out.append(item)
        return out

    train_items = items("train", (folder / "train.xz").read_bytes())
    return Kit(train_items, items("dev", (folder / "dev.xz").read_bytes()), vectors, Path(meta["state"]), meta)


# --- training from a kit -----------------------------------------------------------------------------------------
def _no_semantic(_samples: np.ndarray) -> np.ndarray:
    raise RuntimeError("A kit codec has no semantic encoder: its level-0 codes come precomputed.")


def kit_codec(codec_config: CodecConfig) -> LLMCodec:
    """A trainable codec from the config alone: no Whisper, no vocoder (training never vocodes), no LLM rows
    (its code vectors come with the state, see ``with_vectors``)."""
    return LLMCodec(codec_config, _no_semantic, nn.Identity())


def with_vectors(state: dict, vectors: list[torch.Tensor]) -> dict:
    """``state`` whose acoustic codebooks hold the kit's code vectors (a state saved by the CPU run keeps
    whatever its ``frozen`` buffers last held: the run maps its rows afresh at every step)."""
    model = dict(state["model"])
    for level, level_vectors in enumerate(vectors):
        key = f"levels.levels.{level}.codebook.frozen"
        if key not in model or model[key].shape != level_vectors.shape:
            raise ValueError(f"The kit's code vectors do not fit its training state ({key}): pack the kit again.")
        model[key] = level_vectors.float()
    return state | {"model": model}


@torch.no_grad()
def mel_l1(codec: LLMCodec, dev: list[dict]) -> dict[str, float]:
    """Mean log-mel L1 on the dev items with level 0 alone, levels 0–1 and all levels (lower is better; all
    levels include the pitch level when the codec has one)."""
    was_training = codec.training
    codec.eval()
    device = next(codec.parameters()).device
    levels = len(codec.config.strides)
    scores: dict[str, list[float]] = {"level0": [], "levels01": [], "all_levels": []}
    for it in dev:
        mel = it["mel"].float()[None].to(device)
        frames = mel.shape[-1]
        per_frame = it["codes"][codec.level0_index(frames, len(it["codes"]))][None].to(device)
        pitch = None
        if codec.config.pitch:
            pitch = codec.pitch_features(it["log2_f0"].float().numpy(), it["voiced"].float().numpy() > 0.5)
            pitch = pitch[None].to(device)
        for name, keep in zip(scores, (0, 1, levels), strict=True):
            recon, _ = codec(mel, per_frame, keep, pitch if keep == levels else None)
            scores[name].append((recon - mel).abs().mean().item())
    codec.train(was_training)
    return {k: round(float(np.mean(v)), 4) for k, v in scores.items()}


def train_from_kit(
    kit_folder: str | Path,
    out: str | Path,
    minutes: float,
    device: str | None = None,
    batch: int | None = None,
    run_folder: str | Path | None = None,
    steps: int = 10**9,
) -> dict:
    """Resume the kit's state, train for ``minutes``, evaluate, export and pack into ``out``; returns the result."""
    from model.codec import resume
    from model.codec.io import save_codec
    from model.codec.train import Run, TrainConfig, train

    kit = load_kit(kit_folder)
    state = with_vectors(resume.unpack(kit.state), kit.vectors)
    codec_config = CodecConfig.from_dict(state["codec_config"])
    before = kit_codec(codec_config)
    before.load_state_dict(state["model"], strict=False)
    target = torch.device("cuda" if device != "cpu" and torch.cuda.is_available() else "cpu")
    result = {
        "device": torch.cuda.get_device_name(0) if target.type == "cuda" else "cpu",
        "kit": kit.meta["summary"],
        "start_step": state["step"],
        "eval_before": mel_l1(before.to(target), kit.dev),
    }
    run = Run(Path(run_folder or tempfile.mkdtemp(prefix="codec-kit-")))
    run.folder.mkdir(parents=True, exist_ok=True)
    torch.save(state, run.state_path)  # a kit run always starts from the kit's state, vectors installed
    original = TrainConfig.from_dict(state["train_config"])
    started = time.perf_counter()
    step = train(
        run,
        original,
        steps,
        minutes,
        make_codec=lambda _config, config: kit_codec(config),
        items=kit.items,
        device=device,
        overrides={"batch": batch} if batch else None,
    )
    seconds = time.perf_counter() - started
    trained = run.load_state()
    codec = kit_codec(codec_config)
    codec.load_state_dict(trained["model"], strict=False)
    out = Path(out)
    save_codec(codec, out / "checkpoint")
    trained["train_config"]["batch"] = original.batch  # the CPU goes on with its own batch
    resume.pack(trained, out / "state", max_bytes=RETURN_SHARD_BYTES)
    log = [json.loads(line) for line in (run.folder / "log.jsonl").read_text().splitlines()]
    result |= {
        "end_step": step,
        "batch": batch or original.batch,
        "seconds": round(seconds, 1),
        "steps_per_second": round((step - state["step"]) / seconds, 2),
        "eval_after": mel_l1(codec.to(target), kit.dev),
        "log": log[-40:],
    }
    (out / "kit_result.json").write_text(json.dumps(result, indent=1))
    return result


# --- packing here ---------------------------------------------------------------------------------------------
def _features_here(run_folder: Path, state_path: Path, dev_manifest: Path, dev_clips: int):
    """Training items (from the run's feature cache, extracted if absent) and dev items, with level-0 codes
    from the state's level 0; and the acoustic levels' code vectors (the state's maps of the LLM rows)."""
    from model.audio import SAMPLE_RATE, load_audio
    from model.codec import resume
    from model.codec.pitch import frame_pitch
    from model.codec.train import Run, TrainConfig, _load_or_extract_features, build_codec

    state = resume.unpack(state_path)
    config = TrainConfig.from_dict(state["train_config"])
    codec = build_codec(config, CodecConfig.from_dict(state["codec_config"]))
    codec.load_state_dict(state["model"], strict=False)
    items = _load_or_extract_features(Run(run_folder), codec, Path(config.manifest), config)
    with torch.no_grad():
        for it in items:
            it["codes"] = codec.level0.encode(it.pop("semantic").float())
    clips = [c for c in json.loads(dev_manifest.read_text())["clips"] if c["task"] in ("enhance", "commands")]
    clips = [c for c in clips if c.get("role") in ("", "clean", None)]
    clips = random.Random(0).sample(clips, min(dev_clips, len(clips)))  # many voices, not the first one's
    dev = []
    with torch.no_grad():
        for clip in clips:
            audio = load_audio(dev_manifest.parent / clip["path"])
            codes = codec.level0.encode(torch.from_numpy(codec.semantic(audio.samples)))
            mel = codec.log_mel(audio.samples)[0]
            log2_f0, voiced = frame_pitch(audio.samples, SAMPLE_RATE, codec.frame_times(mel.shape[-1]))
            pitch = {"log2_f0": torch.from_numpy(log2_f0).half(), "voiced": torch.from_numpy(voiced).half()}
            dev.append({"mel": mel.half(), "codes": codes, "speech": True} | pitch)
    with torch.no_grad():
        vectors = [codebook.vectors().clone() for codebook in codec.codebooks()]
    return items, dev, vectors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    pack = commands.add_parser("pack", help="here: write a kit from the committed state and the training set")
    pack.add_argument("--state", default=DEFAULT_STATE, help="packed training state, relative to the repo root")
    pack.add_argument("--run", type=Path, default=Path("runs/codec2"), help="run folder holding the feature cache")
    pack.add_argument("--dev", type=Path, default=Path("dev_set/manifest.json"))
    pack.add_argument("--dev-clips", type=int, default=40)
    pack.add_argument("--max-mb", type=float, help="the kit's size in MiB (default: what the device tool leaves)")
    pack.add_argument("--out", type=Path, default=Path("kit"))
    go = commands.add_parser("train", help="there: train from the kit for some minutes, evaluate, export")
    go.add_argument("--kit", type=Path, default=Path("kit"))
    go.add_argument("--minutes", type=float, required=True)
    go.add_argument("--device", choices=["cuda", "cpu"], help="default: CUDA when there is one")
    go.add_argument("--batch", type=int, help="crops per step (default: the run's own)")
    go.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.command == "pack":
        items, dev, vectors = _features_here(args.run, Path(args.state), args.dev, args.dev_clips)
        budget = int(args.max_mb * 2**20) if args.max_mb else default_budget()
        summary = pack_kit(items, dev, vectors, args.state, args.out, budget)
        print(json.dumps(summary))
    else:
        result = train_from_kit(args.kit, args.out, args.minutes, args.device, args.batch)
        print(json.dumps({k: v for k, v in result.items() if k != "log"}))


if __name__ == "__main__":
    main()
