"""Train the codec from a manifest: resumable, seeded, ``accelerate``-driven (CPU, one GPU, or several).

    python -m model.codec.train --manifest train_set/manifest.json --run runs/codec --steps 6000
    python -m model.codec.train --run runs/codec --steps 9000          # resume the same run, 3000 more steps
    python -m model.codec.train --run runs/codec --export checkpoints/codec   # fp16 safetensors + config.json

Steps: (1) features: each clip's speech embeddings (12.5 Hz) and log-mel (86 Hz), plus a noisy copy of some
speech clips (noise from the manifest's sound clips and coloured noise, 0–20 dB SNR), cached in the run
folder; (2) level 0: k-means of the speech embeddings onto K words, written into the codebook map in closed
form; (3) the mel encoder/decoder and the acoustic levels, trained on random crops with quantiser dropout
(so decoding from level 0, or levels 0–1, still gives sound) and an L1 + L2 log-mel loss.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from scipy.signal import lfilter

from model.audio import load_audio
from model.codec.io import codebook_rows, save_codec
from model.codec.model import CodecConfig, LLMCodec
from model.vocab import VocabMap, VocabTables

logger = logging.getLogger("model.codec.train")
# Words that are likely labels in few-shot prompts: a level-0 code spelled like a label would bias the LLM.
LABEL_LIKE = {
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "yes",
    "no",
    "stop",
    "go",
    "up",
    "down",
    "left",
    "right",
    "on",
    "off",
    "fast",
    "slow",
    "high",
    "low",
    "whisper",
    "english",
    "german",
    "french",
    "russian",
    "noise",
    "clean",
    "speech",
    "music",
    "silence",
    "true",
    "false",
}


@dataclass
class TrainConfig:
    manifest: str = "train_set/manifest.json"
    steps: int = 6000
    batch: int = 16
    crop: int = 128  # mel frames per example (1.5 s)
    lr: float = 1e-3
    level0_words: int = 128
    subword_rows: int = 2048  # rows of the sub-word table per acoustic level
    noisy_fraction: float = 0.3
    seed: int = 0
    log_every: int = 50
    save_every: int = 500


def choose_rows(tables: VocabTables, config: TrainConfig, levels: int, seed: int) -> list[list[int]]:
    """Level 0: K readable words (3–7 letters, not label-like); finer levels: disjoint sub-word rows."""
    rng = random.Random(seed)
    words = [i for i, w in enumerate(tables.words) if 3 <= len(w) <= 7 and w not in LABEL_LIKE]
    subwords = list(range(len(tables.subwords)))
    rng.shuffle(subwords)
    chunks = [sorted(subwords[i * config.subword_rows : (i + 1) * config.subword_rows]) for i in range(levels - 1)]
    return [sorted(rng.sample(words, config.level0_words)), *chunks]


def build_config(config: TrainConfig, tokenizer, tables: VocabTables, lm: str, row_dim: int) -> CodecConfig:
    codec_config = CodecConfig(
        lm=lm, tables_hash=tables.hash, row_dim=row_dim, hidden=128, latent_dim=128, encoder_blocks=4, decoder_blocks=6
    )
    vocab = VocabMap.for_tokenizer(tables, tokenizer)
    codec_config.level_rows = choose_rows(tables, config, codec_config.num_levels, config.seed)
    codec_config.level_token_ids = [
        vocab.token_ids(level)[torch.tensor(rows)].tolist() for level, rows in enumerate(codec_config.level_rows)
    ]
    return codec_config


def extract_features(codec: LLMCodec, manifest: Path, config: TrainConfig) -> list[dict]:
    """Per clip (and per noisy copy): speech embeddings (T0, 96) and log-mel (80, T) as float16."""
    root = manifest.parent
    clips = json.loads(manifest.read_text())["clips"]
    rng = np.random.default_rng(config.seed)
    audio = [load_audio(root / c["path"]).samples for c in clips]
    noises = [a for a, c in zip(audio, clips, strict=True) if c["task"] == "sounds"]
    items = []
    for i, (samples, clip) in enumerate(zip(audio, clips, strict=True)):
        versions = [samples]
        if clip["task"] == "speech" and rng.random() < config.noisy_fraction:
            versions.append(_add_noise(samples, noises, rng))
        for version in versions:
            mel = codec.log_mel(version)[0]
            items.append(
                {
                    "semantic": torch.from_numpy(codec.semantic(version)).half(),
                    "mel": mel.half(),
                    "speech": clip["task"] == "speech",
                }
            )
        if i % 500 == 0:
            logger.info("features: %d / %d clips", i, len(clips))
    return items


def _add_noise(samples: np.ndarray, noises: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    if noises and rng.random() < 0.5:
        noise = np.resize(noises[rng.integers(len(noises))], len(samples))
    else:  # coloured noise: white filtered by a one-pole low-pass of random strength
        white = rng.standard_normal(len(samples)).astype(np.float32)
        noise = np.asarray(lfilter([1.0], [1.0, -rng.uniform(0, 0.99)], white), dtype=np.float32)
    snr = rng.uniform(0, 20)
    gain = np.sqrt(np.mean(samples**2) / (np.mean(noise**2) + 1e-9) / 10 ** (snr / 10))
    mixed = samples + gain * noise
    return (mixed / max(1.0, float(np.abs(mixed).max()))).astype(np.float32)


def fit_level0(codec: LLMCodec, items: list[dict], words: int, seed: int, iterations: int = 40) -> None:
    """k-means of all speech embeddings into ``words`` centroids, installed as level 0's code vectors."""
    data = torch.cat([it["semantic"].float() for it in items if it["speech"]])
    generator = torch.Generator().manual_seed(seed)
    centroids = data[torch.randperm(len(data), generator=generator)[:words]].clone()
    for _ in range(iterations):
        assign = torch.cdist(data, centroids).argmin(dim=1)
        sums = torch.zeros_like(centroids).index_add_(0, assign, data)
        counts = torch.bincount(assign, minlength=words).clamp(min=1)[:, None]
        centroids = torch.where(counts > 1, sums / counts, centroids)
    codec.level0.fit(centroids)
    used = torch.unique(codec.level0.encode(data)).numel()
    logger.info("level 0: %d words fitted to %d embeddings, %d in use", words, len(data), used)


def batches(items: list[dict], codec: LLMCodec, config: TrainConfig, rng: random.Random):
    """Endless random crops: (mel (B, 80, crop), level-0 code per mel frame (B, crop))."""
    long_enough = [it for it in items if it["mel"].shape[-1] >= config.crop] or items
    while True:
        mels, codes = [], []
        for it in rng.choices(long_enough, k=config.batch):
            frames = it["mel"].shape[-1]
            start = rng.randrange(0, max(1, frames - config.crop + 1), codec.config.frame_multiple)
            mel = torch.nn.functional.pad(it["mel"].float(), (0, max(0, config.crop - frames)), value=-11.5)
            level0 = it["codes"][codec.level0_index(frames, len(it["codes"]))]
            level0 = torch.nn.functional.pad(level0, (0, max(0, config.crop - frames)), value=int(level0[-1]))
            mels.append(mel[:, start : start + config.crop])
            codes.append(level0[start : start + config.crop])
        yield torch.stack(mels), torch.stack(codes)


def train(run: Path, config: TrainConfig, steps: int, lm: str = "qwen2.5-coder-0.5b") -> None:
    from accelerate import Accelerator

    from model.codec.semantic import SpeechEmbedder
    from model.codec.vocoder import load_hifigan
    from model.lm import store as lm_store

    accelerator = Accelerator(cpu=not torch.cuda.is_available())
    torch.manual_seed(config.seed)
    tokenizer, embeddings = lm_store.tokenizer_and_embeddings(lm)
    tables = VocabTables.load()
    run.mkdir(parents=True, exist_ok=True)
    state_path = run / "state.pt"
    resumed = torch.load(state_path, weights_only=True) if state_path.exists() else None
    codec_config = (
        CodecConfig(**resumed["codec_config"])
        if resumed
        else build_config(config, tokenizer, tables, lm, embeddings.shape[1])
    )
    codec_config.strides = tuple(codec_config.strides)
    codec = LLMCodec(codec_config, SpeechEmbedder(), load_hifigan())
    codec.set_codebook_rows(codebook_rows(codec_config, tokenizer, embeddings, tables))
    items = _load_or_extract_features(run, codec, Path(config.manifest), config)
    if resumed:
        codec.load_state_dict(resumed["model"], strict=False)
    else:
        fit_level0(codec, items, config.level0_words, config.seed)
    for it in items:
        it["codes"] = codec.level0.encode(it["semantic"].float())
    trainable = [p for n, p in codec.named_parameters() if not n.startswith(("vocoder.", "level0."))]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=0.0)
    step = 0
    if resumed:
        optimizer.load_state_dict(resumed["optimizer"])
        step = resumed["step"]
    codec, optimizer = accelerator.prepare(codec, optimizer)
    rng = random.Random(config.seed + step)
    data = batches(items, accelerator.unwrap_model(codec), config, rng)
    log = (run / "log.jsonl").open("a")
    started, window = time.perf_counter(), []
    while step < steps:
        mel, level0 = (t.to(accelerator.device) for t in next(data))
        keep = rng.choices([0, 1, 2], weights=[0.15, 0.15, 0.7])[0]  # quantiser dropout
        recon, vq_loss = codec(mel, level0, keep)
        mel_loss = (recon - mel).abs().mean() + 0.5 * ((recon - mel) ** 2).mean()
        loss = mel_loss + vq_loss
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(trainable, 1.0)
        for group in optimizer.param_groups:  # linear warm-up, then cosine decay to 10 %
            warmup, decay = min(1.0, (step + 1) / 200), 0.55 + 0.45 * math.cos(math.pi * min(1.0, step / steps))
            group["lr"] = config.lr * warmup * decay  # plain floats: the state must reload with weights_only
        optimizer.step()
        step += 1
        if keep == 2:
            window.append(mel_loss.item())
        if step % config.log_every == 0 and window:
            record = {
                "step": step,
                "mel_loss_all_levels": round(float(np.mean(window)), 4),
                "vq_loss": round(vq_loss.item(), 4),
                "seconds": round(time.perf_counter() - started, 1),
            }
            print(json.dumps(record), flush=True)
            log.write(json.dumps(record) + "\n")
            log.flush()
            window = []
        if step % config.save_every == 0 or step == steps:
            _save_state(state_path, accelerator.unwrap_model(codec), optimizer, step, codec_config)
    log.close()


def _load_or_extract_features(run: Path, codec: LLMCodec, manifest: Path, config: TrainConfig) -> list[dict]:
    cache = run / "features.pt"
    if cache.exists():
        return torch.load(cache, weights_only=True)
    items = extract_features(codec, manifest, config)
    torch.save(items, cache)
    return items


def _save_state(path: Path, codec: LLMCodec, optimizer, step: int, codec_config: CodecConfig) -> None:
    from dataclasses import asdict

    state = {k: v for k, v in codec.state_dict().items() if not k.startswith("vocoder.")}
    tmp = path.with_suffix(".tmp")
    torch.save(
        {"model": state, "optimizer": optimizer.state_dict(), "step": step, "codec_config": asdict(codec_config)}, tmp
    )
    tmp.replace(path)  # a crash mid-write never leaves a half-written state behind


def export(run: Path, out: Path) -> Path:
    """The run's latest state as a release checkpoint (fp16 safetensors + config.json)."""
    from model.codec.semantic import SpeechEmbedder
    from model.codec.vocoder import load_hifigan
    from model.lm import store as lm_store

    resumed = torch.load(run / "state.pt", weights_only=True)
    codec_config = CodecConfig(**resumed["codec_config"])
    codec_config.strides = tuple(codec_config.strides)
    codec = LLMCodec(codec_config, SpeechEmbedder(), load_hifigan())
    codec.load_state_dict(resumed["model"], strict=False)
    tokenizer, embeddings = lm_store.tokenizer_and_embeddings(codec_config.lm)
    codec.set_codebook_rows(codebook_rows(codec_config, tokenizer, embeddings, VocabTables.load()))
    return save_codec(codec, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="run folder (state, features cache, log)")
    parser.add_argument("--manifest", default=TrainConfig.manifest)
    parser.add_argument("--steps", type=int, default=TrainConfig.steps, help="train until this total step count")
    parser.add_argument("--batch", type=int, default=TrainConfig.batch)
    parser.add_argument("--lr", type=float, default=TrainConfig.lr)
    parser.add_argument("--level0-words", type=int, default=TrainConfig.level0_words)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--export", type=Path, help="write the run's checkpoint here instead of training")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.export:
        print(f"exported to {export(args.run, args.export)}")
        return
    config = TrainConfig(
        manifest=args.manifest,
        steps=args.steps,
        batch=args.batch,
        lr=args.lr,
        level0_words=args.level0_words,
        seed=args.seed,
    )
    train(args.run, config, args.steps)


if __name__ == "__main__":
    main()
