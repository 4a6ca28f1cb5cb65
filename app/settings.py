"""Everything the app can be told, from flags or environment variables (flags win)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass, fields

from model.icl.pipeline import DEFAULT_CODEC

GRADIO_ENVIRONMENT = {"host": ("GRADIO_SERVER_NAME",), "port": ("GRADIO_SERVER_PORT",)}


@dataclass(frozen=True)
class AppSettings:
    host: str = "127.0.0.1"  # loopback unless told otherwise: strangers reach it only through --share or a proxy
    port: int = 7860
    share: bool = False
    device: str = "auto"
    dtype: str = "auto"  # the LLM's: auto, int8 (CPU), bf16, fp32 (model/devices.py)
    lm: str = "default"
    codec: str = str(DEFAULT_CODEC)
    vocoder: str = "hifigan"  # or "istft": the light iSTFT path (much faster decoding on a CPU)
    max_file_mb: int = 20  # per upload; longer clips are refused by the audio limits anyway
    max_clip_seconds: float = 30.0
    max_demos: int = 64
    max_prompt_tokens: int = 8192  # below the LLMs' 32k context: a CPU answers an 8k prompt in seconds, not minutes
    concurrency_limit: int = 1  # one LLM call at a time on a CPU; raise on a GPU
    max_queue: int = 32  # beyond this, new requests are told the queue is full

    @classmethod
    def parse(cls, argv: list[str] | None = None) -> AppSettings:
        """Flags, then ``UNIAUDIO_<NAME>`` environment variables, then Gradio's own (``GRADIO_SERVER_NAME`` and
        ``GRADIO_SERVER_PORT``, which a Hugging Face Space sets to 0.0.0.0 and 7860), then the defaults."""
        defaults = cls()
        parser = argparse.ArgumentParser(description="UniAudio 1.5 few-shot audio app")
        for f in fields(cls):
            names = [f"UNIAUDIO_{f.name.upper()}", *GRADIO_ENVIRONMENT.get(f.name, ())]
            env = next((os.environ[n] for n in names if os.environ.get(n)), None)
            default = getattr(defaults, f.name)
            if f.type in ("bool", bool):
                value = env.lower() in ("1", "true", "yes") if env is not None else default
                parser.add_argument(f"--{f.name.replace('_', '-')}", action="store_true", default=value)
            else:
                kind = type(default)
                parser.add_argument(
                    f"--{f.name.replace('_', '-')}", type=kind, default=kind(env) if env is not None else default
                )
        return cls(**vars(parser.parse_args(argv)))
