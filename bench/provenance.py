"""One result writer for every benchmark: the numbers together with what produced them.

Every file in ``bench_results/`` records the git revision (and whether the tree had local changes), the
command line, the options as data, the machine (CPU model, threads, device), the date and the results, so
each number in the README can be traced to a file and re-made with its command.
"""

from __future__ import annotations

import datetime
import json
import platform
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _git(*args: str) -> str:
    try:
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


def _cpu() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine() -> dict:
    import torch

    flags = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    return {
        "cpu": _cpu(),
        "cpu_bf16": "avx512_bf16" in flags or "amx_bf16" in flags,
        "torch_threads": torch.get_num_threads(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def command_line() -> str:
    """How this process was started, as one would type it (``python -m bench.codec …`` for a module)."""
    spec = getattr(sys.modules.get("__main__"), "__spec__", None)
    program = ["-m", spec.name] if spec is not None and spec.name else sys.argv[:1]
    return " ".join(["python", *program, *sys.argv[1:]])


def write_result(path: str | Path, results: dict, options: dict | None = None) -> Path:
    """Write ``results`` with their provenance to ``path`` (JSON) and return the path."""
    record = {
        "git_revision": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "command": command_line(),
        "options": options or {},
        "machine": machine(),
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "results": results,
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=1, default=str) + "\n")
    return path
