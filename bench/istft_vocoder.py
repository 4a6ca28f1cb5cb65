"""Does the light iSTFT vocoder keep what the tuned HiFi-GAN gives? The codec decoded through its tuned HiFi-GAN
(the teacher, in the dtype ``load_codec`` picks here), through states of ``model.codec.vocoder_distill`` runs
(float32; an ablation without the complex-STFT loss among them when given; a ``--joint`` run's state decodes
through its own mel decoder too) and through the shipped int8 export:
PESQ-wb, STOI and DNSMOS OVRL with every level, PESQ-wb and STOI with levels 0–1, on the first ``--clips`` clean
real-speech development clips (the training-time quick evaluation's six among them).

    python -m bench.istft_vocoder --states runs/istft/state.pt runs/istft-nophase/state.pt
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from bench.provenance import write_result
from bench.vocoder_tune import scores
from model.audio import load_audio


def main() -> None:
    from model.codec.io import load_codec
    from model.codec.istft_vocoder import WEIGHTS_NAME, ISTFTVocoder, load_istft_decoder
    from model.codec.vocoder_distill import DistillConfig, JointStudent, installed

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--codec", type=Path, default=Path("checkpoints/codec"))
    parser.add_argument("--states", type=Path, nargs="*", default=[], help="state.pt files of distillation runs")
    parser.add_argument("--dev", type=Path, default=Path("dev_set/manifest.json"))
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--out", type=Path, default=Path("bench_results/istft_vocoder.json"))
    args = parser.parse_args()
    torch.set_num_threads(2)
    entries = json.loads(args.dev.read_text())["clips"]
    chosen = [c for c in entries if c["task"] == "enhance" and c["role"] == "clean"][: args.clips]
    audio = [load_audio(args.dev.parent / c["path"]) for c in chosen]
    codec = load_codec(args.codec)  # the tuned HiFi-GAN: the teacher
    codes = [codec.encode(clip) for clip in audio]
    dtype = str(next(codec.vocoder.parameters()).dtype).removeprefix("torch.")
    result = {"clips": len(audio), f"tuned HiFi-GAN ({dtype}, the teacher)": scores(codec, audio, codes)}
    for path in args.states:
        state = torch.load(path, weights_only=True)
        config = DistillConfig.from_dict(state["config"])
        student = ISTFTVocoder(config.student)
        if config.joint:
            student = JointStudent(codec, student, config.segment_frames)
        student.load_state_dict(state["student"])
        name = f"{path.parent.name} step {state['step']} (float32, complex weight {config.complex_weight})"
        if config.joint:
            name += ", mel decoder trained with it"
        with installed(codec, student.eval()):
            result[name] = scores(codec, audio, codes)
        print(name, result[name], flush=True)
    shipped = args.codec / WEIGHTS_NAME
    if shipped.is_file():  # as load_codec gives it: with the mel decoder trained with it, if the file has one
        light = load_codec(args.codec, vocoder="istft", vocoder_dtype="float32")
        joint = ", with its mel decoder" if load_istft_decoder(shipped) else ""
        name = f"shipped {WEIGHTS_NAME} (int8 rows{joint}, {shipped.stat().st_size / 2**20:.2f} MiB)"
        result[name] = scores(light, audio, codes)
        print(name, result[name], flush=True)
    write_result(args.out, result, {k: str(v) for k, v in vars(args).items()})


if __name__ == "__main__":
    main()
