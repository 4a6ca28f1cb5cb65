"""Channel scoring with a rigged LLM that copies: it must pick the label whose demonstrations the query repeats."""

from __future__ import annotations

import copy
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from model.audio import Audio
from model.debug import debug_pipeline
from model.icl.pipeline import RECIPES, ICLPipeline
from model.lm.frozen import FrozenLM


class InductionLM(torch.nn.Module):
    """A 'model' that only copies: after token x it expects what followed the latest earlier x (an induction
    head), else nothing in particular. With ``longest`` it follows the earlier position whose preceding tokens
    match the most of the current context (a perfect copier of any sequence seen once after a unique cue).
    Its cache holds the token ids, so FrozenLM's prefix caching, batching and left padding work on it as on a
    real model."""

    def __init__(self, config, vocab_size: int, strength: float = 8.0, longest: bool = False):
        super().__init__()
        self.config = copy.deepcopy(config)
        self.config.num_hidden_layers = 1
        self.embed = torch.nn.Embedding(vocab_size, 4)
        self.strength = strength
        self.longest = longest

    def get_input_embeddings(self):
        return self.embed

    def set_attn_implementation(self, name):
        pass

    def forward(self, input_ids, past_key_values=None, attention_mask=None, **kwargs):
        from transformers import DynamicCache

        batch, new = input_ids.shape
        layers = getattr(past_key_values, "layers", [])
        previous = layers[0].keys[:, 0, :, 0].round().long() if layers else input_ids.new_zeros(batch, 0)
        seen = previous.shape[1]
        valid_previous = (
            attention_mask[:, :seen].bool() if attention_mask is not None else torch.ones_like(previous, dtype=bool)
        )
        full = torch.cat([previous, input_ids], dim=1)  # (B, T)
        valid = torch.cat([valid_previous, torch.ones_like(input_ids, dtype=bool)], dim=1)
        t = torch.arange(full.shape[1])
        # same[b, i, s]: position s < i holds the token at i, and s and s + 1 are real tokens
        same = (full[:, :, None] == full[:, None, :]) & (t[None, None, :] < t[None, :, None] - 0)
        same &= valid[:, None, :] & torch.roll(valid, -1, dims=1)[:, None, :] & (t[None, None, :] < t[-1])
        if self.longest:  # rank matches by how far back they agree, the latest first among equals
            same = same.long() * (self._agreement(full, valid) * full.shape[1] + t[None, None, :] + 1)
            latest = torch.where(same > 0, same, 0).argmax(dim=-1)
            latest = torch.where(same.amax(dim=-1) > 0, latest, -1)
        else:
            latest = torch.where(same, t[None, None, :], -1).amax(dim=-1)  # (B, T): latest earlier match, or -1
        logits = torch.zeros(batch, new, self.embed.num_embeddings)
        for b in range(batch):
            for j in range(new):
                s = int(latest[b, seen + j])
                if s >= 0:
                    logits[b, j, full[b, s + 1]] = self.strength
        keys = full.float()[:, None, :, None]
        return SimpleNamespace(logits=logits, past_key_values=DynamicCache([(keys, keys.clone())], config=self.config))

    @staticmethod
    def _agreement(full: torch.Tensor, valid: torch.Tensor, reach: int = 48) -> torch.Tensor:
        """(B, T, T): for positions i and s, how many tokens before them agree (up to ``reach``)."""
        agree = torch.zeros(full.shape[0], full.shape[1], full.shape[1], dtype=torch.long)
        alive = torch.ones_like(agree, dtype=torch.bool)
        for k in range(1, reach + 1):
            a, b = torch.roll(full, k, dims=1), torch.roll(valid, k, dims=1)
            match = (a[:, :, None] == a[:, None, :]) & b[:, None, :] & b[:, :, None]
            match[:, :k, :] = False
            match[:, :, :k] = False
            alive &= match
            agree += alive
        return agree


def clip(kind: str) -> Audio:
    """Three sounds the tiny random codec writes with different tokens (most tones look alike to it)."""
    t = np.arange(9600) / 16_000
    waves = {
        "hum": np.sin(2 * np.pi * 100 * t),
        "whistle": np.sin(2 * np.pi * 2000 * t),
        "hiss": np.random.default_rng(0).standard_normal(len(t)),
    }
    wave = waves[kind]
    return Audio((0.5 * wave / np.abs(wave).max()).astype(np.float32))


@pytest.fixture(scope="module")
def copying():
    base = debug_pipeline()
    lm = FrozenLM(InductionLM(base.lm.model.config, base.lm.vocab_size), base.lm.tokenizer, "debug")
    return ICLPipeline(base.codec, lm, base.vocab, base.limits)


def test_the_copying_lm_copies(copying):
    ids = [5, 6, 7, 8, 5, 6, 7]
    prefix = copying.lm.prefix(ids)
    assert int(prefix.next_logprobs.argmax()) == 8  # after "5 6 7" came 8 before
    assert copying.lm.score(ids[:4], [[5, 6]]) < copying.lm.score(ids[:5], [[6, 7]])


@pytest.mark.parametrize("answer", [0, 1, 2])
def test_channel_scoring_picks_the_label_whose_demonstration_the_query_repeats(copying, answer):
    demos = [(clip(kind), kind) for kind in ("hum", "whistle", "hiss")]
    query = demos[answer][0]  # the very clip: its tokens repeat that demonstration's
    result = copying.classify(query, demos, RECIPES["channel"])  # the shipped recipe: levels 0-1, repeats collapsed
    assert result.label == demos[answer][1], result.probs
    assert int(np.argmax(result.evidence)) == answer  # and that demonstration carries the most evidence
