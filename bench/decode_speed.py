"""Where decoding time goes, and whether onnxruntime speeds up the vocoder (the codec issue's speed target:
encode + decode ≥ 15× real time on 2 cores). Times, on one 10-s clip: encode, the codec's mel decoder,
HiFi-GAN V1 in PyTorch (float32, and bfloat16 where the CPU multiplies it natively — what ``load_codec``
picks there), when ``onnx`` is installed the float32 generator exported to onnxruntime, and, when the codec
folder has one, the light iSTFT vocoder distilled from HiFi-GAN (``model.codec.vocoder_distill``).

    python -m bench.decode_speed [--codec checkpoints/codec] [--seconds 10] [--threads 2]
"""

from __future__ import annotations

import argparse
import tempfile
import timeit
from pathlib import Path

import numpy as np
import torch

from bench.provenance import write_result
from model.audio import Audio, load_audio
from model.codec.istft_vocoder import WEIGHTS_NAME as ISTFT_NAME
from model.codec.istft_vocoder import load_istft_vocoder

ROOT = Path(__file__).resolve().parent.parent


def best_of(fn, repeats: int) -> float:
    """Fewest seconds over ``repeats`` calls (the least disturbed one)."""
    return round(min(timeit.repeat(fn, number=1, repeat=repeats)), 3)


def onnx_vocoder(vocoder: torch.nn.Module, mel: torch.Tensor, threads: int):
    """The vocoder as an onnxruntime session (None when ``onnx`` is not installed), checked against PyTorch."""
    try:
        import onnx  # noqa: F401  (torch's exporter needs it)
        import onnxruntime as ort
    except ImportError:
        return None, None
    path = Path(tempfile.mkdtemp()) / "hifigan.onnx"
    axes = {"mel": {2: "frames"}, "wav": {2: "samples"}}
    torch.onnx.export(vocoder, (mel,), path, input_names=["mel"], output_names=["wav"], dynamic_axes=axes, dynamo=False)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    with torch.inference_mode():
        error = float(np.abs(session.run(None, {"mel": mel.numpy()})[0] - vocoder(mel).numpy()).max())
    return session, error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codec", type=Path, default=ROOT / "checkpoints" / "codec")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=ROOT / "bench_results" / "decode_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from model.codec.io import load_codec
    from model.devices import resolve_dtype

    codec = load_codec(args.codec, vocoder_dtype="float32")
    speech = load_audio(ROOT / "demo_examples" / "enhance" / "pair00_clean.flac").samples
    samples = np.resize(speech, int(args.seconds * 16_000)).astype(np.float32)
    audio = Audio(samples, 16_000, "speech")
    codes = codec.encode(audio)
    levels = [torch.as_tensor(c) for c in codec._from_codes(codes)]
    frames = codec._frames_of(codes)
    with torch.inference_mode():
        mel = codec.decoder_mel(levels, frames)
        timings = {
            "encode": best_of(lambda: codec.encode(audio), args.repeats),
            "mel_decoder": best_of(lambda: codec.decoder_mel(levels, frames), args.repeats),
            "hifigan_torch": best_of(lambda: codec.vocode(mel), args.repeats),
            "decode_total_torch": best_of(lambda: codec.decode(codes), args.repeats),
        }
    session, error = onnx_vocoder(codec.vocoder, mel, args.threads)
    if session is not None:
        timings["hifigan_onnxruntime"] = best_of(lambda: session.run(None, {"mel": mel.numpy()}), args.repeats)
    bf16 = resolve_dtype("auto", torch.device("cpu")) == torch.bfloat16
    if bf16:  # what load_codec's "auto" picks on this CPU
        codec.vocoder.to(torch.bfloat16)
        with torch.inference_mode():
            timings["hifigan_torch_bf16"] = best_of(lambda: codec.vocode(mel), args.repeats)
            timings["decode_total_torch_bf16"] = best_of(lambda: codec.decode(codes), args.repeats)
    light = args.codec / ISTFT_NAME
    if light.is_file():
        codec.vocoder = load_istft_vocoder(light)
        with torch.inference_mode():
            timings["istft_torch"] = best_of(lambda: codec.vocode(mel), args.repeats)
            timings["decode_total_istft"] = best_of(lambda: codec.decode(codes), args.repeats)
            if bf16:
                codec.vocoder.to(torch.bfloat16)
                timings["istft_torch_bf16"] = best_of(lambda: codec.vocode(mel), args.repeats)
                timings["decode_total_istft_bf16"] = best_of(lambda: codec.decode(codes), args.repeats)
    seconds = args.seconds
    result = {
        "clip_seconds": seconds,
        "threads": args.threads,
        "seconds": timings,
        "x_realtime": {
            "encode": round(seconds / timings["encode"], 1),
            "decode_torch": round(seconds / timings["decode_total_torch"], 1),
            "encode_decode_torch": round(seconds / (timings["encode"] + timings["decode_total_torch"]), 1),
        },
        "onnxruntime_max_abs_difference": error,
    }
    if session is not None:
        rest = timings["decode_total_torch"] - timings["hifigan_torch"]
        result["x_realtime"]["encode_decode_onnxruntime"] = round(
            seconds / (timings["encode"] + rest + timings["hifigan_onnxruntime"]), 1
        )
    if bf16:
        result["x_realtime"]["encode_decode_torch_bf16"] = round(
            seconds / (timings["encode"] + timings["decode_total_torch_bf16"]), 1
        )
    for name in ("istft", "istft_bf16"):
        if f"decode_total_{name}" in timings:
            result["x_realtime"][f"encode_decode_{name}"] = round(
                seconds / (timings["encode"] + timings[f"decode_total_{name}"]), 1
            )
    result["vocoder_share_of_decode"] = round(timings["hifigan_torch"] / timings["decode_total_torch"], 3)
    print(result)
    write_result(args.out, result, {k: str(v) for k, v in vars(args).items()})


if __name__ == "__main__":
    main()
