"""Security defaults: loopback only, no share link, upload limits, one bounded queue, no pickles, no path escapes,
temporary files cleaned up."""

from __future__ import annotations

import re
import urllib.error
import urllib.request
from pathlib import Path

import gradio as gr
import pytest

from app.examples import EXAMPLES_DIR
from app.settings import AppSettings
from app.ui import MODELS, build_demo
from model.debug import debug_pipeline

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    p for folder in ("model", "app", "components", "bench", "demo_examples") for p in (ROOT / folder).rglob("*.py")
]


def test_launch_passes_the_limits(monkeypatch):
    import importlib.util

    from model.icl.pipeline import ICLPipeline

    captured = {}
    monkeypatch.setattr(ICLPipeline, "from_pretrained", classmethod(lambda cls, *a, **k: debug_pipeline()))
    monkeypatch.setattr(gr.Blocks, "launch", lambda self, **kwargs: captured.update(kwargs))
    spec = importlib.util.spec_from_file_location("launcher", ROOT / "app.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main([])
    assert captured["server_name"] == "127.0.0.1" and captured["share"] is False
    assert captured["max_file_size"] == "20mb"
    assert captured["allowed_paths"] == [str(EXAMPLES_DIR)]  # nothing else of the disk is served


def test_one_bounded_queue_for_every_model_event_and_temporary_files_expire():
    demo = build_demo(debug_pipeline(), AppSettings(max_queue=7))
    assert demo._queue.max_size == 7
    model_events = {"classify", "enhance", "synthesize", "explore", "reconstruct"}
    fns = {fn.api_name: fn for fn in demo.fns.values()}
    assert {fns[name].concurrency_id for name in model_events} == {MODELS}
    assert {fns[name].concurrency_limit for name in model_events} == {"default"}  # the queue's, below
    assert demo._queue.default_concurrency_limit == AppSettings().concurrency_limit == 1
    assert demo.delete_cache == (3600, 3600)  # uploads and outputs older than an hour are deleted hourly


def test_example_names_cannot_reach_other_files():
    from app import examples

    for escape in ("../README.md", "/etc/passwd", "commands/../../app.py", "commands/one/../../../pyproject.toml"):
        with pytest.raises(ValueError, match="not one of the example clips"):
            examples.path(escape)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_weights_are_never_unpickled(path):
    text = path.read_text()
    assert not re.search(r"^\s*import pickle|^\s*from pickle|joblib|trust_remote_code\s*=\s*True", text, re.M)
    for call in re.findall(r"torch\.load\([^)]*\)", text):
        assert "weights_only=True" in call, f"{path.name}: {call}"


@pytest.mark.integration
def test_the_server_serves_no_file_outside_its_folders(server_url):
    def status(path: str) -> int:
        try:
            return urllib.request.urlopen(server_url + path, timeout=10).status
        except urllib.error.HTTPError as error:
            return error.code

    for secret in ("/etc/passwd", str(ROOT / "README.md"), str(ROOT / "app.py")):
        assert status(f"gradio_api/file={secret}") >= 400
    assert status(f"gradio_api/file={EXAMPLES_DIR / 'commands/one/flite_slt.flac'}") == 200


@pytest.mark.integration
def test_the_server_refuses_an_upload_over_the_limit_and_keeps_serving(server_url):
    import httpx

    too_big = b"\0" * (AppSettings().max_file_mb * 2**20 + 1024)
    refused = httpx.post(server_url + "gradio_api/upload", files={"files": ("big.wav", too_big)}, timeout=60)
    assert refused.status_code == 413
    accepted = httpx.post(server_url + "gradio_api/upload", files={"files": ("small.wav", b"RIFF")}, timeout=60)
    assert accepted.status_code == 200
