"""Launch the app: parse flags (or UNIAUDIO_* environment variables), load the models once, build, launch.

python app.py [--host 127.0.0.1] [--port 7860] [--share] [--device auto|cpu|cuda] [--lm default|large|tiny]
              [--vocoder hifigan|istft]

Binds 127.0.0.1 unless told otherwise (a flag, UNIAUDIO_HOST, or GRADIO_SERVER_NAME as a Space sets it).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging


def limit_malloc_arenas(arenas: int = 2) -> None:
    """glibc gives threads that allocate their own heap arenas (up to 8 per core); a server's worker threads then
    keep freed memory and the resident size creeps up request after request. With two arenas and one concurrency
    group for all model events, the server's growth after warm-up fell from 369 MB to 16 MB over 150 requests
    (``python -m bench.load``). No effect where the C library is not glibc."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(-8, arenas)  # -8: M_ARENA_MAX


def main(argv: list[str] | None = None) -> None:
    from app.examples import EXAMPLES_DIR
    from app.settings import AppSettings
    from app.space import ensure_tiny_lm
    from app.ui import build_demo
    from model.audio import AudioLimits
    from model.icl.pipeline import ICLPipeline
    from model.lm.store import cache_root

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    limit_malloc_arenas()
    settings = AppSettings.parse(argv)
    ensure_tiny_lm(settings.lm, cache_root())
    limits = AudioLimits(max_seconds=settings.max_clip_seconds, max_file_bytes=settings.max_file_mb * 2**20)
    pipeline = ICLPipeline.from_pretrained(
        settings.lm,
        codec=settings.codec,
        vocoder=settings.vocoder,
        device=settings.device,
        dtype=settings.dtype,
        limits=limits,
        max_demos=settings.max_demos,
        max_prompt_tokens=settings.max_prompt_tokens,
    )
    demo = build_demo(pipeline, settings)
    demo.launch(
        server_name=settings.host,
        server_port=settings.port,
        share=settings.share,
        max_file_size=f"{settings.max_file_mb}mb",
        allowed_paths=[str(EXAMPLES_DIR)],
    )


if __name__ == "__main__":
    main()
