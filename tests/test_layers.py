"""The imports show the architecture: the codec is the lowest layer, the LLM sits beside it, in-context learning
uses both only through the vocabulary bridge, and nothing in the library imports gradio."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LIBRARY = ROOT / "model"


def imports_of(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def files(package: str) -> list[Path]:
    return sorted((LIBRARY / package).rglob("*.py"))


@pytest.mark.parametrize("path", files("codec"), ids=lambda p: p.name)
def test_the_codec_never_imports_the_llm_side_or_the_layer_above(path):
    bad = {n for n in imports_of(path) if n.startswith(("model.icl", "model.lm", "gradio"))}
    # training alone reads the LLM's embedding rows (and binds them through the vocabulary)
    if path.name == "train.py":
        bad -= {"model.lm", "model.lm.store"}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", files("lm"), ids=lambda p: p.name)
def test_the_llm_never_imports_the_codec_or_the_layer_above(path):
    bad = {n for n in imports_of(path) if n.startswith(("model.codec", "model.icl", "model.vocab", "gradio"))}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("path", files("speech"), ids=lambda p: p.name)
def test_speech_in_text_out_stands_beside_in_context_learning(path):
    """It reads Whisper's encoder and the LLM, never the codec's tokens or the few-shot layer."""
    bad = {n for n in imports_of(path) if n.startswith(("model.icl", "model.vocab", "gradio"))}
    bad |= {n for n in imports_of(path) if n.startswith("model.codec") and n != "model.codec.whisper"}
    assert not bad, f"{path.name} imports {sorted(bad)}"


@pytest.mark.parametrize("path", sorted(LIBRARY.rglob("*.py")), ids=lambda p: str(p.relative_to(LIBRARY)))
def test_nothing_in_the_library_imports_gradio(path):
    assert not {n for n in imports_of(path) if n.split(".")[0] in ("gradio", "app", "components")}
