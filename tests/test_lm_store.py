from __future__ import annotations

import hashlib
import json

import pytest

from model.lm import store as lm_store
from model.lm.frozen import FrozenLM
from model.lm.store import LMSpec


@pytest.fixture
def fake_parts(tmp_path, monkeypatch):
    """Two importable packages holding one data file each, like the model part wheels."""
    for i, payload in ((1, b"GGUF-first-half|"), (2, b"second-half")):
        package = tmp_path / "site" / f"fakepart{i}"
        (package / "data").mkdir(parents=True)
        (package / "__init__.py").write_text("")
        (package / "data" / f"part{i}.bin").write_bytes(payload)
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return hashlib.sha256(b"GGUF-first-half|second-half").hexdigest()


def spec(sha: str, packages=("fakepart1", "fakepart2")) -> LMSpec:
    return LMSpec("fake", "test", packages, ("data/part1.bin", "data/part2.bin"), sha, "pip install fake-parts")


def test_lookup_names_and_aliases():
    assert lm_store.lookup("default").name == "qwen2.5-coder-0.5b"
    assert lm_store.lookup("TINY").name == "smollm2-135m"
    assert lm_store.lookup("large").name == "qwen2.5-coder-1.5b"
    assert lm_store.lookup("some/hub-id") is None
    assert all(len(s.sha256) == 64 for s in lm_store.SPECS.values())


def test_missing_wheel_names_the_pip_command(fake_parts):
    with pytest.raises(ValueError, match="pip install fake-parts"):
        lm_store.part_paths(spec(fake_parts, packages=("fakepart1", "not_installed_part")))


def test_parts_are_found_in_order(fake_parts):
    paths = lm_store.part_paths(spec(fake_parts))
    assert [p.name for p in paths] == ["part1.bin", "part2.bin"]


def test_wrong_checksum_is_refused_and_leaves_no_partial_folder(fake_parts, tmp_path):
    with pytest.raises(ValueError, match="do not assemble into the expected file"):
        lm_store.prepare(spec("0" * 64), root=tmp_path / "cache")
    assert [p.suffix for p in (tmp_path / "cache" / "lm").iterdir()] == [".lock"]  # only the (free) lock file


def test_two_processes_preparing_at_once_convert_once(fake_parts, tmp_path, monkeypatch):
    """A benchmark started beside a training run loads the same LLM: the second waits for the first's
    conversion instead of writing into the same half-built folder (which failed with FileExistsError)."""
    import threading
    import time

    calls = []

    def slow_convert(gguf, out):
        calls.append(gguf)
        time.sleep(0.3)
        out.mkdir(parents=True)
        (out / "model.safetensors").write_bytes(b"weights")

    monkeypatch.setattr(lm_store, "_convert", slow_convert)
    folders, errors = [], []

    def prepare():
        try:
            folders.append(lm_store.prepare(spec(fake_parts), root=tmp_path / "cache"))
        except Exception as error:  # any failure: reported by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=prepare) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and len(calls) == 1
    assert len(set(folders)) == 1 and lm_store.is_ready(folders[0])


def test_cache_root_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("UNIAUDIO_CACHE", str(tmp_path / "here"))
    assert lm_store.cache_root() == tmp_path / "here"
    monkeypatch.delenv("UNIAUDIO_CACHE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert lm_store.cache_root() == tmp_path / "xdg" / "uniaudio15"


def test_ready_marker_checks_sizes(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"12345")
    assert not lm_store.is_ready(tmp_path)
    (tmp_path / lm_store.READY_MARKER).write_text(json.dumps({"files": {"model.safetensors": 5}}))
    assert lm_store.is_ready(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"123")  # truncated
    assert not lm_store.is_ready(tmp_path)
    (tmp_path / lm_store.READY_MARKER).write_text("{not json")
    assert not lm_store.is_ready(tmp_path)


def test_unknown_local_path_or_file_is_refused(tmp_path):
    not_a_model = tmp_path / "weights.bin"
    not_a_model.write_bytes(b"x")
    with pytest.raises(ValueError, match="is a file"):
        FrozenLM.from_pretrained(str(not_a_model))
    with pytest.raises(ValueError, match="Could not load the LLM"):
        FrozenLM.from_pretrained(str(tmp_path))  # an empty folder
