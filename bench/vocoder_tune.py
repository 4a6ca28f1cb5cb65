"""Which fine-tuned vocoder to ship: the codec decoded through the universal HiFi-GAN, through tuned states of a
``model.codec.vocoder_tune`` run, and through the low-rank exports of one of them (the size a checkpoint can
afford). PESQ-wb, STOI and DNSMOS OVRL with every level, PESQ-wb and STOI with levels 0–1, on the first
``--clips`` clean real-speech development clips (the training-time quick evaluation's six among them).

    python -m bench.vocoder_tune --states runs/vocoder/state-1000.pt runs/vocoder/state.pt --ranks 32 16 8
"""

from __future__ import annotations

import argparse
import contextlib
import json
import tempfile
from pathlib import Path

import numpy as np
import torch

from bench.codec import dnsmos
from bench.provenance import write_result
from model.audio import load_audio


def scores(codec, audio: list, codes: list) -> dict:
    from pesq import pesq
    from pystoi import stoi

    found: dict[str, list[float]] = {"pesq": [], "stoi": [], "dnsmos": [], "pesq_levels01": [], "stoi_levels01": []}
    for clip, code in zip(audio, codes, strict=True):
        every, coarse = codec.decode(code).samples, codec.decode(code.upto(1)).samples
        with contextlib.suppress(Exception):  # pesq refuses clips without enough speech activity
            found["pesq"].append(pesq(16_000, clip.samples, every, "wb"))
            found["pesq_levels01"].append(pesq(16_000, clip.samples, coarse, "wb"))
        found["stoi"].append(stoi(clip.samples, every, 16_000))
        found["stoi_levels01"].append(stoi(clip.samples, coarse, 16_000))
        found["dnsmos"].append(dnsmos(every))
    return {k: round(float(np.mean(v)), 3) for k, v in found.items()}


def main() -> None:
    from model.codec.io import load_codec
    from model.codec.vocoder import load_hifigan
    from model.codec.vocoder_tune import export
    from model.devices import resolve_dtype

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codec", type=Path, default=Path("checkpoints/codec"))
    parser.add_argument("--states", type=Path, nargs="+", required=True, help="state.pt files of a tuning run")
    parser.add_argument("--ranks", type=int, nargs="*", default=[], help="low-rank exports of the first state")
    parser.add_argument("--dev", type=Path, default=Path("dev_set/manifest.json"))
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path("bench_results/vocoder_tune.json"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    dtype = resolve_dtype("auto", torch.device("cpu"))  # what load_codec runs the vocoder in here
    entries = json.loads(args.dev.read_text())["clips"]
    chosen = [c for c in entries if c["task"] == "enhance" and c["role"] == "clean"][: args.clips]
    audio = [load_audio(args.dev.parent / c["path"]) for c in chosen]
    codec = load_codec(args.codec, vocoder=load_hifigan().to(dtype))
    codes = [codec.encode(clip) for clip in audio]
    result = {"clips": len(audio), "vocoder_dtype": str(dtype).removeprefix("torch.")}
    result["universal"] = scores(codec, audio, codes)
    print("universal", result["universal"], flush=True)
    for path in args.states:
        state = torch.load(path, weights_only=True)
        vocoder = load_hifigan()
        vocoder.load_state_dict(state["vocoder"])
        codec.vocoder = vocoder.to(dtype).eval()
        name = f"step {state['step']} (full)"
        result[name] = scores(codec, audio, codes)
        print(name, result[name], flush=True)
    with tempfile.TemporaryDirectory() as folder:
        run = Path(folder) / "run"
        run.mkdir()
        (run / "state.pt").symlink_to(args.states[0].resolve())
        step = torch.load(args.states[0], weights_only=True)["step"]
        for rank in args.ranks:
            path = export(run, Path(folder) / f"rank{rank}", rank)
            codec.vocoder = load_hifigan(tuned=path).to(dtype)
            name = f"step {step}, rank {rank} ({path.stat().st_size / 2**20:.2f} MiB)"
            result[name] = scores(codec, audio, codes)
            print(name, result[name], flush=True)
    write_result(args.out, result, {k: str(v) for k, v in vars(args).items()})


if __name__ == "__main__":
    main()
