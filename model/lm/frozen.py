"""The frozen causal LM: load by name, score candidate continuations, generate under per-step constraints.

The LM knows only token ids; it knows nothing about audio. A ``Prefix`` holds the key/value cache of a
token sequence so that many candidates (and, through ``extend``, many queries) reuse it without recomputing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from model.devices import quantize_int8, resolve_device, resolve_dtype, wants_int8
from model.lm import store as lm_store

logger = logging.getLogger(__name__)

KV = tuple[tuple[torch.Tensor, torch.Tensor], ...]  # per layer: (keys, values), each (1, heads, T, head_dim)
# Scoring runs at most this many (candidate × position) tokens per forward pass: with a 151k-word vocabulary
# their float32 log-probs take 0.6 GB, where 64 long demonstrations in one batch would take tens of GB.
MAX_SCORED_TOKENS = 1024
# Draft tokens checked per pass: DRAFT_BLOCK at first and after a rejection, doubled after each pass that keeps
# all it checked, up to MAX_DRAFT_BLOCK. A pass costs little more for more tokens on a CPU (bench.latency), so a
# long draft the LLM keeps whole is checked in few passes, while one it keeps in pieces (enhancement's noisy
# query) is not checked in long, mostly wasted blocks.
DRAFT_BLOCK = 8
MAX_DRAFT_BLOCK = 64


@dataclass(frozen=True)
class Prefix:
    """A scored token sequence: its ids, its KV cache and the log-probs of the token that would follow it."""

    ids: torch.Tensor  # (T,) long, on the CPU
    kv: KV
    next_logprobs: torch.Tensor  # (vocab,) float32 log-probs at the last position

    def __len__(self) -> int:
        return int(self.ids.numel())


class FrozenLM:
    """A causal LM in eval mode with gradients off. Build with ``from_pretrained``; the constructor is pure."""

    def __init__(self, model: torch.nn.Module, tokenizer, name: str):
        self.model = model.eval().requires_grad_(False)
        self.tokenizer = tokenizer
        self.name = name

    @classmethod
    def from_pretrained(cls, name_or_path: str = "default", device: str = "auto", dtype: str = "auto") -> FrozenLM:
        """Load a bundled LLM by name (see ``lm_store.SPECS``/``ALIASES``), a local folder, or a hub id."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        torch_device = resolve_device(device)
        torch_dtype = resolve_dtype(dtype, torch_device)
        spec = lm_store.lookup(name_or_path)
        source = lm_store.prepare(spec) if spec else _local_or_hub(name_or_path)
        try:
            model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype)
            tokenizer = AutoTokenizer.from_pretrained(source)
        except Exception as error:
            if spec is None:
                raise ValueError(f"Could not load the LLM {name_or_path!r}: {error}") from error
            logger.warning("The cached copy of %s is unreadable (%s); rebuilding it.", spec.name, error)
            source = lm_store.prepare(spec, rebuild=True)
            model = AutoModelForCausalLM.from_pretrained(source, dtype=torch_dtype)
            tokenizer = AutoTokenizer.from_pretrained(source)
        model = model.to(torch_device)
        if wants_int8(dtype, torch_device):
            model = quantize_int8(model)
        return cls(model, tokenizer, spec.name if spec else str(name_or_path))

    @property
    def precision(self) -> str:
        """How the weights compute: "int8" (quantised linear layers) or the float dtype, e.g. "bfloat16"."""
        if any(type(m).__module__.startswith("torch.ao.nn.quantized") for m in self.model.modules()):
            return "int8"
        return str(self.model.dtype).removeprefix("torch.")

    @property
    def device(self) -> torch.device:
        return next(self.model.parameters()).device

    @property
    def vocab_size(self) -> int:
        return int(self.model.get_input_embeddings().weight.shape[0])

    @property
    def context_length(self) -> int:
        return int(getattr(self.model.config, "max_position_embeddings", 2048))

    def embeddings(self) -> torch.Tensor:
        """The input embedding matrix (vocab, hidden), on the CPU in float32: the codec's frozen codebooks."""
        return self.model.get_input_embeddings().weight.detach().float().cpu()

    def encode_text(self, text: str) -> list[int]:
        """Token ids of ``text`` with no special tokens added."""
        return list(self.tokenizer(text, add_special_tokens=False).input_ids)

    @torch.inference_mode()
    def prefix(self, ids: Sequence[int] | torch.Tensor) -> Prefix:
        """Run ``ids`` once and keep the cache. ``ids`` must be non-empty."""
        ids = self._ids(ids)
        if ids.numel() == 0:
            raise ValueError("A prefix needs at least one token.")
        self._check_fits(len(ids))
        out = self.model(ids[None].to(self.device), use_cache=True)
        return Prefix(ids, _kv_tuple(out.past_key_values), _log_softmax(out.logits[0, -1]))

    @torch.inference_mode()
    def extend(self, prefix: Prefix, ids: Sequence[int] | torch.Tensor) -> Prefix:
        """A new prefix = ``prefix`` + ``ids``, computing only the new tokens; ``prefix`` is left unchanged."""
        ids = self._ids(ids)
        if ids.numel() == 0:
            return prefix
        self._check_fits(len(prefix) + len(ids))
        out = self.model(ids[None].to(self.device), past_key_values=self._cache(prefix.kv, 1), use_cache=True)
        return Prefix(torch.cat([prefix.ids, ids]), _kv_tuple(out.past_key_values), _log_softmax(out.logits[0, -1]))

    @torch.inference_mode()
    def score(self, prefix: Prefix | Sequence[int], candidates: Sequence[Sequence[int]]) -> torch.Tensor:
        """Total log-prob of each candidate continuation after ``prefix``: float32 tensor (len(candidates),).

        Candidates run in batches on top of the prefix's cache (right-padded: under a causal mask the padding
        comes after every real token, so it changes nothing that is read).
        """
        if not isinstance(prefix, Prefix):
            prefix = self.prefix(prefix)
        return self._score_rows([prefix] * len(candidates), candidates)

    @torch.inference_mode()
    def score_each(self, prefixes: Sequence[Prefix], candidates: Sequence[Sequence[int]]) -> torch.Tensor:
        """Total log-prob of ``candidates[i]`` after ``prefixes[i]``, batched: float32 (len(prefixes),).

        The caches differ in length, so each is left-padded to the longest and the padding masked out; the new
        tokens keep each prefix's own positions. Equals ``score(prefixes[i], [candidates[i]])`` for every ``i``.
        """
        if len(prefixes) != len(candidates) or not prefixes:
            raise ValueError("Give one candidate per prefix (and at least one).")
        return self._score_rows(list(prefixes), candidates)

    def _score_rows(self, prefixes: list[Prefix], candidates: Sequence[Sequence[int]]) -> torch.Tensor:
        rows = [self._ids(c) for c in candidates]
        if not rows or any(r.numel() == 0 for r in rows):
            raise ValueError("Every candidate needs at least one token.")
        self._check_fits(max(len(p) for p in prefixes) + max(len(r) for r in rows))
        totals = torch.stack([p.next_logprobs[r[0]] for p, r in zip(prefixes, rows, strict=True)])
        longest = max(len(r) for r in rows)
        # Batches of at most MAX_SCORED_TOKENS positions: the logits of a batch are (rows, length, vocab) floats.
        longer = [i for i, r in enumerate(rows) if len(r) > 1]  # one-token candidates are read off the prefix
        size = max(1, MAX_SCORED_TOKENS // max(1, longest - 1))
        for first in range(0, len(longer), size):
            batch = longer[first : first + size]
            logprobs = self._continuation_logprobs([prefixes[i] for i in batch], [rows[i] for i in batch])
            for j, i in enumerate(batch):
                totals[i] += logprobs[j, torch.arange(len(rows[i]) - 1), rows[i][1:]].sum()
        return totals

    def _continuation_logprobs(self, prefixes: list[Prefix], rows: list[torch.Tensor]) -> torch.Tensor:
        """Log-probs (rows, longest - 1, vocab) after each row's tokens but its last, on top of its prefix."""
        longest = max(len(r) for r in rows)
        batch = torch.zeros(len(rows), longest - 1, dtype=torch.long)
        for i, row in enumerate(rows):
            batch[i, : len(row) - 1] = row[:-1]
        if all(p is prefixes[0] for p in prefixes):  # one shared cache: a view, no copy, no mask
            out = self.model(
                batch.to(self.device), past_key_values=self._cache(prefixes[0].kv, len(rows)), use_cache=True
            )
        else:
            lengths = [len(p) for p in prefixes]
            mask = torch.zeros(len(rows), max(lengths) + longest - 1, dtype=torch.long)
            for i, length in enumerate(lengths):
                mask[i, max(lengths) - length :] = 1  # left padding of the cache is masked out
            positions = torch.tensor(lengths)[:, None] + torch.arange(longest - 1)[None]
            out = self.model(
                batch.to(self.device),
                attention_mask=mask.to(self.device),
                position_ids=positions.to(self.device),
                past_key_values=self._padded_cache([p.kv for p in prefixes], max(lengths)),
                use_cache=True,
            )
        return torch.log_softmax(out.logits.float(), dim=-1).cpu()

    @torch.inference_mode()
    def generate(
        self,
        prefix: Prefix | Sequence[int],
        allowed_ids_per_step: Sequence[Sequence[int] | torch.Tensor],
        n: int,
        temperature: float = 0.0,
        seed: int | None = None,
        draft: Sequence[int] | torch.Tensor | None = None,
        tolerance: float = 0.0,
        progress: Callable[[int], None] | None = None,
    ) -> torch.Tensor:
        """Generate ``n`` tokens, step ``i`` restricted to ``allowed_ids_per_step[i]`` (greedy when temperature is 0).

        ``allowed_ids_per_step`` has ``n`` entries, or one entry reused for every step. Returns (n,) long ids.
        ``draft``: tokens the output is expected to repeat, position by position (a demonstration being copied).
        Greedy decoding then checks several of them in one forward pass (``DRAFT_BLOCK``, doubling while the LLM
        keeps them all, up to ``MAX_DRAFT_BLOCK``) and keeps those the LLM would have chosen itself — the same
        tokens, far fewer passes when the LLM copies (prompt-lookup decoding). ``tolerance`` > 0 (natural-log units)
        also keeps a draft token the LLM rates within that much of its favourite (lenient acceptance, as in
        speculative decoding's typical acceptance): where the LLM hesitates between the draft and another token, the
        draft wins; where it clearly prefers another, the LLM does. Sampling ignores the draft. A step allowed one
        token only is that token (a separator between the parts of an answer, written in the same call).
        ``progress(done)`` is told how many tokens are chosen after each forward pass.
        """
        if not isinstance(prefix, Prefix):
            prefix = self.prefix(prefix)
        if n < 0:
            raise ValueError(f"Cannot generate {n} tokens.")
        if len(allowed_ids_per_step) not in (1, n):
            raise ValueError(f"Give one allowed set, or one per step ({n}); got {len(allowed_ids_per_step)}.")
        self._check_fits(len(prefix) + n)
        allowed_sets = [self._ids(a) for a in allowed_ids_per_step]
        if any(a.numel() == 0 for a in allowed_sets):
            step = next(i for i, a in enumerate(allowed_sets) if a.numel() == 0)
            raise ValueError(f"Step {step} allows no token.")

        def allowed(step: int) -> torch.Tensor:
            return allowed_sets[step if len(allowed_sets) > 1 else 0]

        progress = progress or (lambda done: None)
        if n == 0:
            return torch.zeros(0, dtype=torch.long)
        if draft is not None and temperature <= 0:
            return self._generate_drafted(prefix, allowed, n, _as_ids(draft).tolist(), tolerance, progress)
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        logprobs, cache, chosen = prefix.next_logprobs, self._cache(prefix.kv, 1), []
        for step in range(n):
            token = allowed(step)[_pick(logprobs[allowed(step)], temperature, generator)]
            chosen.append(int(token))
            if step + 1 < n:
                out = self.model(token.view(1, 1).to(self.device), past_key_values=cache, use_cache=True)
                cache, logprobs = out.past_key_values, _log_softmax(out.logits[0, -1])
                progress(len(chosen))
        progress(n)
        return torch.tensor(chosen, dtype=torch.long)

    def _generate_drafted(
        self, prefix: Prefix, allowed, n: int, draft: list[int], tolerance: float, progress: Callable[[int], None]
    ) -> torch.Tensor:
        """Greedy decoding that verifies the draft's next tokens in one pass (the cache always holds the prefix
        and every chosen token but the newest; rejected draft tokens are cut from it again)."""

        def choose(step: int, logprobs: torch.Tensor) -> int:
            options = allowed(step)
            best = int(options[int(torch.argmax(logprobs[options]))])
            drafted = tolerance > 0 and step < len(draft) and bool((options == draft[step]).any())
            if drafted and logprobs[draft[step]] >= logprobs[best] - tolerance:
                return draft[step]
            return best

        logprobs, cache, chosen, block = prefix.next_logprobs, self._cache(prefix.kv, 1), [], DRAFT_BLOCK
        while True:
            step = len(chosen)
            chosen.append(choose(step, logprobs))
            if len(chosen) == n:
                progress(n)
                return torch.tensor(chosen, dtype=torch.long)
            proposal = []
            for i in range(step + 1, min(n, step + 1 + block, len(draft))):
                if not bool((allowed(i) == draft[i]).any()):
                    break  # a token the step may not take can never be accepted
                proposal.append(draft[i])
            fed = [chosen[-1], *proposal]
            if step + 1 + len(proposal) == n:
                fed = fed[:-1]  # the last token is only checked: what would follow it is never needed
            out = self.model(torch.tensor(fed)[None].to(self.device), past_key_values=cache, use_cache=True)
            for i, token in enumerate(proposal):
                if choose(step + 1 + i, _log_softmax(out.logits[0, i])) != token:
                    break
                chosen.append(token)
            kept = len(chosen) - step - 1
            if len(chosen) == n:
                progress(n)
                return torch.tensor(chosen, dtype=torch.long)
            progress(len(chosen))
            block = min(2 * block, MAX_DRAFT_BLOCK) if kept == len(proposal) == block else DRAFT_BLOCK
            cache = _trimmed(out.past_key_values, len(prefix) + len(chosen))
            logprobs = _log_softmax(out.logits[0, len(chosen) - step - 1])  # after the last draft token kept

    @torch.inference_mode()
    def attention_from_last(self, prefix: Prefix, ids: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """Attention paid by the last token of ``prefix + ids`` to every position: (len(prefix) + len(ids),),
        averaged over layers and heads (sums to 1). Runs ``ids`` once more with eager attention, which is
        the only implementation that returns attention weights."""
        ids = self._ids(ids)
        previous = self.model.config._attn_implementation
        self.model.set_attn_implementation("eager")
        try:
            out = self.model(
                ids[None].to(self.device),
                past_key_values=self._cache(prefix.kv, 1),
                use_cache=True,
                output_attentions=True,
            )
        finally:
            self.model.set_attn_implementation(previous)
        return torch.stack([layer[0, :, -1, :] for layer in out.attentions]).float().mean(dim=(0, 1)).cpu()

    def _cache(self, kv: KV, batch: int):
        from transformers import DynamicCache

        layers = [(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in kv]
        return DynamicCache(layers, config=self.model.config)

    def _padded_cache(self, kvs: Sequence[KV], length: int):
        """Several caches as one batch, each left-padded with zeros to ``length`` positions (masked by the caller)."""
        from transformers import DynamicCache

        def pad(t: torch.Tensor) -> torch.Tensor:
            return torch.nn.functional.pad(t, (0, 0, length - t.shape[2], 0))

        layers = [
            (torch.cat([pad(kv[n][0]) for kv in kvs]), torch.cat([pad(kv[n][1]) for kv in kvs]))
            for n in range(len(kvs[0]))
        ]
        return DynamicCache(layers, config=self.model.config)

    def _ids(self, ids: Sequence[int] | torch.Tensor) -> torch.Tensor:
        ids = _as_ids(ids)
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.vocab_size):
            raise ValueError(
                f"Token ids must lie in [0, {self.vocab_size}) for {self.name}; got {ids.min()}..{ids.max()}."
            )
        return ids

    def _check_fits(self, length: int) -> None:
        if length > self.context_length:
            raise ValueError(
                f"The prompt needs {length} tokens but {self.name} reads at most {self.context_length}: "
                "use fewer or shorter demonstrations, or fewer codec levels."
            )


def _local_or_hub(name_or_path: str) -> str:
    path = Path(name_or_path).expanduser()
    if path.exists() and not path.is_dir():
        raise ValueError(
            f"{name_or_path!r} is a file; give a model folder, a hub id or one of {sorted(lm_store.ALIASES)}."
        )
    return str(path) if path.is_dir() else name_or_path


def _as_ids(ids: Sequence[int] | torch.Tensor) -> torch.Tensor:
    return torch.as_tensor(ids, dtype=torch.long).flatten().cpu()


def _log_softmax(logits: torch.Tensor) -> torch.Tensor:
    return torch.log_softmax(logits.float(), dim=-1).cpu()


def _trimmed(cache, length: int):
    """``cache`` cut back to its first ``length`` positions (draft tokens the LLM did not take)."""
    for layer in cache.layers:
        layer.keys, layer.values = layer.keys[..., :length, :], layer.values[..., :length, :]
    return cache


def _kv_tuple(cache) -> KV:
    return tuple((layer.keys, layer.values) for layer in cache.layers)


def _pick(logprobs: torch.Tensor, temperature: float, generator: torch.Generator | None) -> int:
    if temperature <= 0:
        return int(torch.argmax(logprobs))
    probs = torch.softmax(logprobs / temperature, dim=-1)
    return int(torch.multinomial(probs, 1, generator=generator))
