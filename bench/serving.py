"""Start the real app (``python app.py …``) on a free 127.0.0.1 port, for tests and benchmarks."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class RunningApp:
    url: str
    process: subprocess.Popen

    def rss_mb(self) -> float:
        """The server process's resident memory (Linux /proc), in MiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("VmRSS not found")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_app(*args: str, timeout: float = 300, log: Path | None = None) -> Iterator[RunningApp]:
    """``python app.py *args --port <free>``; yields once the page answers, stops the server afterwards."""
    port = free_port()
    env = dict(os.environ, GRADIO_ANALYTICS_ENABLED="False")
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [sys.executable, "app.py", *args, "--port", str(port)], cwd=ROOT, env=env, stdout=out, stderr=out
    )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.time() + timeout
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"the app did not start (exit {process.poll()}, timeout {timeout} s)") from None
                time.sleep(1)
        yield RunningApp(url, process)
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        if log:
            out.close()
