"""int8 (dynamic, per-channel) against float32 for the LLM on this CPU: speed of one 400-token forward pass and
how closely the int8 model's next-token log-probabilities follow float32's. Few-shot accuracy with int8 comes
from ``python -m bench.fewshot --dtype int8`` (same episodes as float32).

    python -m bench.int8 [--lm default] [--repeats 3]
"""

from __future__ import annotations

import argparse
import copy
import time
from pathlib import Path

import torch

from bench.provenance import write_result
from model.devices import quantize_int8
from model.lm.frozen import FrozenLM

TEXT = "The quick brown fox jumps over the lazy dog. She sells sea shells by the sea shore. " * 30


def forward_seconds(model: torch.nn.Module, ids: torch.Tensor, repeats: int) -> tuple[float, torch.Tensor]:
    with torch.inference_mode():
        model(ids[:, :32])  # warm-up
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            logits = model(ids).logits
            times.append(time.perf_counter() - start)
    return min(times), logits[0].float()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--lm", default="default")
    parser.add_argument("--tokens", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench_results/int8.json"))
    args = parser.parse_args()
    lm = FrozenLM.from_pretrained(args.lm, device="cpu", dtype="float32")
    ids = torch.tensor([lm.encode_text(TEXT)[: args.tokens]])
    fp32_seconds, fp32 = forward_seconds(lm.model, ids, args.repeats)
    int8_seconds, int8 = forward_seconds(quantize_int8(copy.deepcopy(lm.model)), ids, args.repeats)
    top = fp32.argmax(-1)
    lp32, lp8 = fp32.log_softmax(-1), int8.log_softmax(-1)
    result = {
        "lm": lm.name,
        "tokens": ids.shape[1],
        "float32_seconds": round(fp32_seconds, 3),
        "int8_seconds": round(int8_seconds, 3),
        "speedup": round(fp32_seconds / int8_seconds, 2),
        "top1_agreement": round(float((int8.argmax(-1) == top).float().mean()), 4),
        "mean_abs_logprob_change_of_fp32_top1": round(
            float((lp32.gather(-1, top[:, None]) - lp8.gather(-1, top[:, None])).abs().mean()), 4
        ),
    }
    print(result)
    write_result(args.out, result, vars(args))


if __name__ == "__main__":
    main()
