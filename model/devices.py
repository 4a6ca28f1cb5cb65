"""The one place where device and dtype are chosen."""

from __future__ import annotations

import torch

_DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


def resolve_device(device: str | torch.device = "auto") -> torch.device:
    """``"auto"`` picks CUDA when present, else the CPU; anything else is passed to ``torch.device``."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except RuntimeError as error:
        raise ValueError(f"Unknown device {device!r}: use 'auto', 'cpu' or 'cuda'.") from error
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"Device {device!r} was asked for but no CUDA GPU is visible: use --device cpu.")
    return resolved


def cpu_has_fast_bf16() -> bool:
    """Whether this CPU multiplies bfloat16 natively (AVX-512 BF16 or AMX): then bf16 runs the LLM ~3× faster
    than float32 here (measured: 0.24 s vs 0.77 s for a 140-token prompt on Qwen2.5-0.5B, 2 cores)."""
    try:
        with open("/proc/cpuinfo") as info:
            flags = info.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


INT8 = "int8"  # float32 weights loaded, then every linear layer quantised to int8 (dynamic, per channel)


def wants_int8(dtype: str | torch.dtype, device: torch.device) -> bool:
    """Whether the LLM should run with int8 linear layers: when asked for (CPU only), and for ``"auto"`` on a CPU
    without native bf16. There, on 2 AVX2 cores, int8 made a 5-way 1-shot channel classification with a new support
    set 6.9 → 2.3 s and a further query 1.8 → 0.5 s, with few-shot accuracy inside float32/bf16's interval
    (bench_results/latency_*.json, app_timing_*.json, int8_fewshot_int8.json)."""
    if dtype == "auto":
        return device.type == "cpu" and not cpu_has_fast_bf16()
    if dtype != INT8:
        return False
    if device.type != "cpu":
        raise ValueError("dtype 'int8' is for CPUs (dynamic quantisation); use 'auto' or 'bf16' on a GPU.")
    return True


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Dynamic int8 quantisation of every ``nn.Linear`` with per-channel weight scales (per-tensor scales broke
    Qwen2.5: top-1 agreement with float32 0.18; per channel 0.993, ~1.8-2x faster on an AVX2 CPU;
    ``bench/int8.py``). For CPUs without native bf16, where float32 is otherwise the only choice."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    return quantize_dynamic(model.float(), {torch.nn.Linear: per_channel_dynamic_qconfig})


def resolve_dtype(dtype: str | torch.dtype, device: torch.device) -> torch.dtype:
    """The dtype to load in. ``"auto"``: bfloat16 on CUDA and on CPUs with native bf16, else float32 (which
    ``wants_int8`` then quantises); ``"int8"`` loads float32 too."""
    if isinstance(dtype, torch.dtype):
        return dtype
    if dtype == INT8:
        return torch.float32
    if dtype == "auto":
        fast = device.type == "cuda" or (device.type == "cpu" and cpu_has_fast_bf16())
        return torch.bfloat16 if fast else torch.float32
    if dtype not in _DTYPES:
        raise ValueError(f"Unknown dtype {dtype!r}: use one of 'auto', 'int8', {', '.join(sorted(_DTYPES))}.")
    return _DTYPES[dtype]
