"""Train the codec from a manifest: resumable, seeded, ``accelerate``-driven (CPU, one GPU, or several).

    python -m model.codec.train --run runs/codec2 --steps 20000          # start, or resume the same run
    python -m model.codec.train --run runs/codec2 --steps 40000          # go on: the schedule is the run's own
    python -m model.codec.train --run runs/codec2 --export checkpoints/codec   # fp16 safetensors + config.json

Steps: (1) features: each clip's semantic features (Whisper base, block ``semantic_layer``, 12.5 Hz) and
log-mel (86 Hz), plus a noisy copy of some speech clips (noise from the manifest's sound clips and coloured
noise, 0–20 dB SNR), cached in the run folder; (2) level 0: k-means of the standardised features onto K
words, written into the codebook map in closed form; (3) the mel encoder/decoder and the acoustic levels,
trained on random crops with quantiser dropout (so decoding from level 0, or levels 0–1, still gives sound),
an L1 + L2 log-mel loss and, after ``adversarial_from`` steps, a mel-patch critic with feature matching.

The learning-rate schedule is a function of the step and the run's fixed horizon (``schedule_steps``), and
the state holds the model, both optimisers, the data sampler's random state and the step: a run stopped and
resumed any number of times follows exactly the schedule of an uninterrupted one.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import math
import random
import time
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch
from scipy.signal import lfilter

from model.audio import SAMPLE_RATE, load_audio
from model.codec.discriminator import MelDiscriminator, discriminator_loss, generator_losses
from model.codec.io import save_codec
from model.codec.model import CodecConfig, LLMCodec
from model.codec.pitch import frame_pitch
from model.schedule import warmup_cosine
from model.vocab import VocabMap, VocabTables, check_codec_binding

logger = logging.getLogger("model.codec.train")
# Words that are likely labels in few-shot prompts: a level-0 code spelled like a label would bias the LLM.
LABEL_LIKE = frozenset(
    [
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
    ]
)


@dataclass
class TrainConfig:
    """Everything a run needs; saved in its state, so a resumed run keeps its own settings."""

    manifest: str = "train_set/manifest.json"
    schedule_steps: int = 60_000  # the schedule's horizon (warm-up, then cosine to 10 %), fixed for the run
    batch: int = 16
    crop: int = 128  # mel frames per example (1.5 s)
    lr: float = 6e-4
    warmup: int = 500
    level0_words: int = 2048  # bench/level0.py: block 5 at 25 Hz with 2,048 words repeats best across voices
    subword_rows: list[int] = field(default_factory=lambda: [2048, 3072, 3072])  # per acoustic level
    strides: list[int] = field(default_factory=lambda: [4, 2, 2])  # mel frames per code: 21.5, 43, 43 Hz
    keep_weights: list[float] = field(default_factory=lambda: [0.1, 0.1, 0.1, 0.7])  # P(keep 0..L levels)
    semantic_layer: int = 5
    semantic_hop: int = 640  # 25 Hz
    hidden: int = 192
    latent_dim: int = 192
    encoder_blocks: int = 4
    decoder_blocks: int = 8
    adversarial_from: int = 4000  # steps of plain reconstruction before the critic joins
    adversarial_weight: float = 0.1
    matching_weight: float = 1.0
    noisy_fraction: float = 0.3
    pitch_stride: int = 0  # mel frames per pitch code (0: no pitch level); a resumed run may grow one
    pitch_bins: int = 256
    pitch_keep: float = 0.85  # P(the decoder gets the pitch level | all acoustic levels kept): it must decode without
    seed: int = 0
    log_every: int = 50
    save_every: int = 500
    eval_every: int = 2000

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to 10 % at ``schedule_steps`` (and 10 % after it)."""
    return warmup_cosine(step, config.schedule_steps, config.lr, config.warmup)


def codebook_rows(config: CodecConfig, tokenizer, embeddings: torch.Tensor, tables: VocabTables) -> list[torch.Tensor]:
    """The frozen LLM rows of the acoustic levels (training only; the pitch level has no codebook: its codes
    are bins), after checking that the vocabulary is the codec's."""
    vocab = VocabMap.for_tokenizer(tables, tokenizer)
    check_codec_binding(config, vocab, config.lm)
    return [
        embeddings[vocab.token_ids(level)[torch.tensor(config.level_rows[level])]].float()
        for level in range(1, 1 + len(config.strides))
    ]


def choose_rows(tables: VocabTables, config: TrainConfig) -> list[list[int]]:
    """Level 0: K readable words (3–7 letters, not label-like); finer levels (the pitch level last): disjoint
    sub-word rows. The pitch rows come after the acoustic ones in the same shuffle, so adding a pitch level to
    a run leaves its other levels' rows as they were."""
    rng = random.Random(config.seed)
    words = [i for i, w in enumerate(tables.words) if 3 <= len(w) <= 7 and w not in LABEL_LIKE]
    subwords = list(range(len(tables.subwords)))
    rng.shuffle(subwords)
    sizes = [*config.subword_rows, *([config.pitch_bins + 1] if config.pitch_stride else [])]
    if sum(sizes) > len(subwords):
        raise ValueError(f"The sub-word table has {len(subwords)} rows, fewer than {sum(sizes)}.")
    starts = np.cumsum([0, *sizes])
    chunks = [sorted(subwords[a:b]) for a, b in itertools.pairwise(starts)]
    return [sorted(rng.sample(words, config.level0_words)), *chunks]


def build_config(config: TrainConfig, tokenizer, tables: VocabTables, lm: str, row_dim: int) -> CodecConfig:
    codec_config = CodecConfig(
        lm=lm,
        tables_hash=tables.hash,
        row_dim=row_dim,
        semantic="whisper-base",
        semantic_layer=config.semantic_layer,
        semantic_hop=config.semantic_hop,
        semantic_dim=512,
        strides=tuple(config.strides),
        hidden=config.hidden,
        latent_dim=config.latent_dim,
        encoder_blocks=config.encoder_blocks,
        decoder_blocks=config.decoder_blocks,
        pitch_stride=config.pitch_stride,
        pitch_bins=config.pitch_bins,
    )
    vocab = VocabMap.for_tokenizer(tables, tokenizer)
    codec_config.level_rows = choose_rows(tables, config)
    codec_config.level_token_ids = [
        vocab.token_ids(level)[torch.tensor(rows)].tolist() for level, rows in enumerate(codec_config.level_rows)
    ]
    return codec_config


def add_pitch_level(codec_config: CodecConfig, config: TrainConfig, tables: VocabTables, tokenizer) -> CodecConfig:
    """``codec_config`` (a run's, without pitch) grown the pitch level ``config`` asks for; other levels unchanged."""
    if codec_config.pitch_stride:
        raise ValueError(f"The codec already has a pitch level (stride {codec_config.pitch_stride}).")
    rows = choose_rows(tables, config)
    if rows[1:-1] != codec_config.level_rows[1:]:
        raise ValueError("The run's acoustic rows are not the ones its seed chooses: cannot add the pitch rows.")
    vocab = VocabMap.for_tokenizer(tables, tokenizer)
    level = codec_config.num_levels
    return replace(
        codec_config,
        pitch_stride=config.pitch_stride,
        pitch_bins=config.pitch_bins,
        level_rows=[*codec_config.level_rows, rows[-1]],
        level_token_ids=[*codec_config.level_token_ids, vocab.token_ids(level)[torch.tensor(rows[-1])].tolist()],
    )


def extract_features(codec: LLMCodec, manifest: Path, config: TrainConfig) -> list[dict]:
    """Per clip (and per noisy copy): semantic features (T0, E), log-mel (80, T) and F0 per mel frame (log2 Hz
    and voicing, (T,) each; what the pitch level is coded from), all float16."""
    root = manifest.parent
    clips = json.loads(manifest.read_text())["clips"]
    rng = np.random.default_rng(config.seed)
    audio = [load_audio(root / c["path"]).samples for c in clips]
    noises = [a for a, c in zip(audio, clips, strict=True) if c["task"] == "sounds"]
    items = []
    for i, (samples, clip) in enumerate(zip(audio, clips, strict=True)):
        versions = [samples]
        if clip["task"] == "speech" and rng.random() < config.noisy_fraction:
            versions.append(add_noise(samples, noises, rng))
        for version in versions:
            mel = codec.log_mel(version)[0]
            log2_f0, voiced = frame_pitch(version, SAMPLE_RATE, codec.frame_times(mel.shape[-1]))
            items.append(
                {
                    "semantic": torch.from_numpy(codec.semantic(version)).half(),
                    "mel": mel.half(),
                    "log2_f0": torch.from_numpy(log2_f0).half(),
                    "voiced": torch.from_numpy(voiced).half(),
                    "speech": clip["task"] == "speech",
                }
            )
        if i % 500 == 0:
            logger.info("features: %d / %d clips", i, len(clips))
    return items


def add_noise(samples: np.ndarray, noises: list[np.ndarray], rng: np.random.Generator) -> np.ndarray:
    """``samples`` with a sound clip or coloured noise added at 0–20 dB SNR, peak-limited to 1."""
    if noises and rng.random() < 0.5:
        noise = np.resize(noises[rng.integers(len(noises))], len(samples))
    else:  # coloured noise: white filtered by a one-pole low-pass of random strength
        white = rng.standard_normal(len(samples)).astype(np.float32)
        noise = np.asarray(lfilter([1.0], [1.0, -rng.uniform(0, 0.99)], white), dtype=np.float32)
    snr = rng.uniform(0, 20)
    gain = np.sqrt(np.mean(samples**2) / (np.mean(noise**2) + 1e-9) / 10 ** (snr / 10))
    mixed = samples + gain * noise
    return (mixed / max(1.0, float(np.abs(mixed).max()))).astype(np.float32)


def kmeans(data: torch.Tensor, k: int, seed: int, iterations: int = 25) -> torch.Tensor:
    """Lloyd's k-means from a random sample of the data; an empty cluster keeps its previous centroid."""
    generator = torch.Generator().manual_seed(seed)
    centroids = data[torch.randperm(len(data), generator=generator)[:k]].clone()
    for _ in range(iterations):
        assign = torch.cdist(data, centroids).argmin(dim=1)
        sums = torch.zeros_like(centroids).index_add_(0, assign, data)
        counts = torch.bincount(assign, minlength=k)[:, None]
        centroids = torch.where(counts > 0, sums / counts.clamp(min=1), centroids)
    return centroids


def fit_level0(codec: LLMCodec, items: list[dict], words: int, seed: int, sample: int = 100_000) -> None:
    """k-means of the standardised semantic features of speech and sounds, installed as level 0's codes."""
    data = torch.cat([it["semantic"].float() for it in items])
    mean, std = data.mean(dim=0), data.std(dim=0) + 1e-5
    standard = (data - mean) / std
    picked = standard[torch.randperm(len(standard), generator=torch.Generator().manual_seed(seed))[:sample]]
    codec.level0.fit(kmeans(picked, words, seed), mean, std)
    used = torch.unique(codec.level0.encode(data)).numel()
    logger.info("level 0: %d words fitted to %d of %d frames, %d in use", words, len(picked), len(data), used)


def batches(items: list[dict], codec: LLMCodec, config: TrainConfig, rng: random.Random):
    """Endless random crops: (mel (B, 80, crop), level-0 code per mel frame (B, crop), pitch decoder features
    (B, 82, crop) or None). The pitch features go through the pitch level's codes, as at inference."""
    long_enough = [it for it in items if it["mel"].shape[-1] >= config.crop] or items
    coding = codec.config.pitch
    if config.crop % codec.config.frame_multiple:
        raise ValueError(f"The crop ({config.crop} frames) must be a multiple of {codec.config.frame_multiple}.")
    while True:
        mels, codes, pitch = [], [], []
        for it in rng.choices(long_enough, k=config.batch):
            frames = it["mel"].shape[-1]
            start = rng.randrange(0, max(1, frames - config.crop + 1), codec.config.frame_multiple)
            pad = (0, max(0, config.crop - frames))
            mel = torch.nn.functional.pad(it["mel"].float(), pad, value=-11.5)
            level0 = it["codes"][codec.level0_index(frames, len(it["codes"]))]
            level0 = torch.nn.functional.pad(level0, pad, value=int(level0[-1]))
            mels.append(mel[:, start : start + config.crop])
            codes.append(level0[start : start + config.crop])
            if coding:
                window = slice(start, start + config.crop)
                log2_f0 = torch.nn.functional.pad(it["log2_f0"].float(), pad, value=7.5)[window].numpy()
                voiced = torch.nn.functional.pad(it["voiced"].float(), pad)[window].numpy()
                pitch.append(codec.pitch_features(log2_f0, voiced > 0.5))
        yield torch.stack(mels), torch.stack(codes), torch.stack(pitch) if pitch else None


def mel_loss(recon: torch.Tensor, mel: torch.Tensor) -> torch.Tensor:
    return (recon - mel).abs().mean() + 0.5 * ((recon - mel) ** 2).mean()


@dataclass
class Run:
    """A run folder: ``state.pt`` (resumable), ``features.pt`` (cache), ``log.jsonl`` (losses, evaluations)."""

    folder: Path

    @property
    def state_path(self) -> Path:
        return self.folder / "state.pt"

    def load_state(self) -> dict | None:
        return torch.load(self.state_path, weights_only=True) if self.state_path.exists() else None

    def log(self, record: dict) -> None:
        print(json.dumps(record), flush=True)
        with (self.folder / "log.jsonl").open("a") as log:
            log.write(json.dumps(record) + "\n")


def build_codec(config: TrainConfig, codec_config: CodecConfig | None, lm: str = "qwen2.5-coder-0.5b") -> LLMCodec:
    """A trainable codec with the LLM's rows installed in its codebooks; a new config when none is given."""
    from model.codec.vocoder import load_hifigan
    from model.lm import store as lm_store

    tables = VocabTables.load()
    tokenizer, embeddings = lm_store.tokenizer_and_embeddings(lm)
    if codec_config is None:
        codec_config = build_config(config, tokenizer, tables, lm, embeddings.shape[1])
    elif config.pitch_stride != codec_config.pitch_stride:
        codec_config = add_pitch_level(codec_config, config, tables, tokenizer)
    codec = LLMCodec(codec_config, codec_config.make_semantic(), load_hifigan())
    codec.set_codebook_rows(codebook_rows(codec_config, tokenizer, embeddings, tables))
    return codec


def train(
    run: Run,
    config: TrainConfig,
    steps: int,
    minutes: float | None = None,
    evaluator=None,
    resume_from: Path | None = None,
    make_codec=build_codec,
    items: list[dict] | None = None,
    device: str | None = None,
    overrides: dict | None = None,
) -> int:
    """Train until ``steps`` (or ``minutes`` of wall time); returns the step reached. Resumes from the run's
    ``state.pt``, else from a packed state (``resume_from``, see ``model.codec.resume``), else starts anew.
    ``make_codec(config, codec_config or None)`` builds the codec (tests inject tiny ones). ``items`` are
    training features given directly (the GPU kit's: mel and level-0 codes, no semantic features) instead of
    the run's cache; ``device`` "cpu" keeps a GPU machine on its CPU; ``overrides`` replace settings of a
    resumed run for this call only (the GPU kit's larger batch)."""
    from accelerate import Accelerator

    from model.codec import resume

    accelerator = Accelerator(cpu=device == "cpu" or not torch.cuda.is_available())
    run.folder.mkdir(parents=True, exist_ok=True)
    resumed = run.load_state()
    if resumed is None and resume_from is not None:
        resumed = resume.unpack(resume_from)
    if resumed:  # the run's own settings; only the data may have moved (another machine)
        config = TrainConfig.from_dict(resumed["train_config"] | {"manifest": config.manifest})
    config = replace(config, **(overrides or {}))
    torch.manual_seed(config.seed)
    codec = make_codec(config, CodecConfig.from_dict(resumed["codec_config"]) if resumed else None)
    codec_config = codec.config
    critic = MelDiscriminator()
    if items is None:
        items = _load_or_extract_features(run, codec, Path(config.manifest), config)
    if resumed:
        codec.load_state_dict(resumed["model"], strict=False)
        critic.load_state_dict(resumed["critic"])
    else:
        fit_level0(codec, items, config.level0_words, config.seed)
    with torch.no_grad():
        for it in items:
            if "codes" not in it:
                it["codes"] = codec.level0.encode(it["semantic"].float())
    trainable = [p for n, p in codec.named_parameters() if not n.startswith(("vocoder.", "level0."))]
    optimizer = torch.optim.AdamW(trainable, lr=config.lr, weight_decay=0.0)
    critic_optimizer = torch.optim.AdamW(critic.parameters(), lr=config.lr, betas=(0.5, 0.9))
    step, rng = 0, random.Random(config.seed)
    if resumed:
        optimizer.load_state_dict(_grown(resumed["optimizer"], len(trainable)))
        critic_optimizer.load_state_dict(resumed["critic_optimizer"])
        step = resumed["step"]
        rng.setstate(_as_random_state(resumed["rng"]))
    codec, critic, optimizer, critic_optimizer = accelerator.prepare(codec, critic, optimizer, critic_optimizer)
    data = batches(items, accelerator.unwrap_model(codec), config, rng)
    started, window = time.perf_counter(), []
    deadline = started + 60 * minutes if minutes else math.inf
    while step < steps and time.perf_counter() < deadline:
        mel, level0, pitch = (t if t is None else t.to(accelerator.device) for t in next(data))
        keep = rng.choices(range(len(config.keep_weights)), weights=config.keep_weights)[0]  # quantiser dropout
        if keep < len(config.keep_weights) - 1 or (pitch is not None and rng.random() >= config.pitch_keep):
            pitch = None  # the pitch level comes last: it decodes only on top of every acoustic level
        recon, vq_loss = codec(mel, level0, keep, pitch)
        reconstruction = mel_loss(recon, mel)
        loss = reconstruction + vq_loss
        adversarial = step >= config.adversarial_from
        if adversarial:
            fooling, matching = generator_losses(critic, mel, recon)
            loss = loss + config.adversarial_weight * fooling + config.matching_weight * matching
        for opt in (optimizer, critic_optimizer):
            for group in opt.param_groups:
                group["lr"] = learning_rate(config, step)  # plain floats: the state reloads with weights_only
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(trainable, 1.0)
        optimizer.step()
        if adversarial:
            critic_optimizer.zero_grad(set_to_none=True)
            accelerator.backward(discriminator_loss(critic, mel, recon))
            critic_optimizer.step()
        step += 1
        if keep == len(config.keep_weights) - 1 and (pitch is not None or not codec_config.pitch_stride):
            window.append(reconstruction.item())
        if step % config.log_every == 0 and window:
            run.log(
                {
                    "step": step,
                    "mel_loss_all_levels": round(float(np.mean(window)), 4),
                    "vq_loss": round(vq_loss.item(), 4),
                    "lr": round(learning_rate(config, step), 7),
                    "seconds": round(time.perf_counter() - started, 1),
                }
            )
            window = []
        if step % config.save_every == 0 or step == steps:
            _save_state(run, accelerator, codec, critic, optimizer, critic_optimizer, step, rng, config, codec_config)
        if evaluator and step % config.eval_every == 0:
            run.log({"step": step, "eval": evaluator(accelerator.unwrap_model(codec))})
    _save_state(run, accelerator, codec, critic, optimizer, critic_optimizer, step, rng, config, codec_config)
    return step


def _grown(optimizer_state: dict, parameters: int) -> dict:
    """A saved optimiser state for a model that has since grown parameters at the end of its list (a new
    pitch level): the new ones join the group with no moments, as at a fresh start."""
    group = optimizer_state["param_groups"][0]
    have = sum(len(g["params"]) for g in optimizer_state["param_groups"])
    if have == parameters:
        return optimizer_state
    if have > parameters:
        raise ValueError(f"The saved optimiser has {have} parameters, the model only {parameters}.")
    grown = {**group, "params": [*group["params"], *range(have, parameters)]}
    return {**optimizer_state, "param_groups": [grown, *optimizer_state["param_groups"][1:]]}


def _as_random_state(saved) -> tuple:
    version, internal, gauss = saved
    return (int(version), tuple(int(x) for x in internal), gauss)


def _load_or_extract_features(run: Run, codec: LLMCodec, manifest: Path, config: TrainConfig) -> list[dict]:
    cache = run.folder / "features.pt"
    if cache.exists():
        return torch.load(cache, weights_only=True)
    items = extract_features(codec, manifest, config)
    torch.save(items, cache)
    return items


def _save_state(run, accelerator, codec, critic, optimizer, critic_optimizer, step, rng, config, codec_config):
    codec = accelerator.unwrap_model(codec)
    state = {
        "model": {k: v for k, v in codec.state_dict().items() if not k.startswith("vocoder.")},
        "critic": accelerator.unwrap_model(critic).state_dict(),
        "optimizer": optimizer.state_dict(),
        "critic_optimizer": critic_optimizer.state_dict(),
        "step": step,
        "rng": rng.getstate(),
        "train_config": asdict(config),
        "codec_config": asdict(codec_config),
    }
    tmp = run.state_path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(run.state_path)  # a crash mid-write never leaves a half-written state behind


def export(run: Run, out: Path) -> Path:
    """The run's latest state as a release checkpoint (fp16 safetensors + config.json, code vectors included)."""
    resumed = run.load_state()
    if resumed is None:
        raise ValueError(f"{run.folder} has no state.pt to export.")
    codec = build_codec(TrainConfig.from_dict(resumed["train_config"]), CodecConfig.from_dict(resumed["codec_config"]))
    codec.load_state_dict(resumed["model"], strict=False)
    return save_codec(codec, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="run folder (state, features cache, log)")
    parser.add_argument("--manifest", default=TrainConfig.manifest)
    parser.add_argument("--steps", type=int, default=20_000, help="train until this total step count")
    parser.add_argument("--minutes", type=float, help="stop (and save) after this many minutes")
    parser.add_argument("--schedule-steps", type=int, default=TrainConfig.schedule_steps, help="new runs only")
    parser.add_argument("--level0-words", type=int, default=TrainConfig.level0_words, help="new runs only")
    parser.add_argument("--semantic-layer", type=int, default=TrainConfig.semantic_layer, help="new runs only")
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument(
        "--add-pitch", type=int, metavar="STRIDE", help="grow a resumed run a pitch level (mel frames per code)"
    )
    parser.add_argument("--crop", type=int, help="mel frames per example (a multiple of every level's stride)")
    parser.add_argument("--eval-dev", type=Path, help="dev manifest: log PESQ/STOI on a few clips every eval")
    parser.add_argument("--resume-from", type=Path, help="a packed state to start from when the run has none")
    parser.add_argument("--pack", type=Path, help="write the run's state as committable files here and stop")
    parser.add_argument("--export", type=Path, help="write the run's checkpoint here instead of training")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    run = Run(args.run)
    if args.export:
        print(f"exported to {export(run, args.export)}")
        return
    if args.pack:
        from model.codec import resume

        state = run.load_state()
        if state is None:
            parser.error(f"{args.run} has no state.pt to pack")
        print(f"packed step {state['step']} into {resume.pack(state, args.pack)}")
        return
    config = TrainConfig(
        manifest=args.manifest,
        schedule_steps=args.schedule_steps,
        level0_words=args.level0_words,
        semantic_layer=args.semantic_layer,
        seed=args.seed,
    )
    evaluator = None
    if args.eval_dev:
        from model.codec.evaluate import QuickEval

        evaluator = QuickEval(args.eval_dev)
    overrides = {"pitch_stride": args.add_pitch} if args.add_pitch else {}
    if args.crop:
        overrides["crop"] = args.crop
    train(run, config, args.steps, args.minutes, evaluator, args.resume_from, overrides=overrides)


if __name__ == "__main__":
    main()
