"""Train the light iSTFT vocoder (``model.codec.istft_vocoder``) on the codec's own decoded mels: distilled from
the codec's tuned HiFi-GAN (``--target teacher``, the default) or fitted to the clips themselves (``--target
recording``); with ``--joint``, a copy of the codec's mel decoder is trained with it, end to end from the codes
to the recording (what the shipped light path is).

HiFi-GAN is 99 % of decoding time on a CPU. Pairs (decoded log-mel, the teacher's waveform for it — or the clip
that was encoded) are made once for a random share of the training set, then random segments are fitted with a
log-mel L1 loss, a multi-resolution STFT loss (spectral convergence + log magnitude) and an L1 loss on the
power-compressed complex STFT, meant to teach the teacher's phase (a recording's phase is not a function of the
mel, so ``--complex-weight 0`` goes with ``--target recording``); ``--adversarial`` adds spectrogram critics.
Measured (model card): neither the complex loss nor the critics helped, and fitting the recordings did best.

A joint run keeps what the mel decoder reads (the summed level latents and the pitch features) instead of the
mel it made, decodes a window around each segment (40 frames each side, as far as the clip goes)
with its own copy of the decoder, and trains both parts on the same losses: the decoder no longer has to make
a log-mel an L1 loss likes, only one this vocoder turns into the clip. The codec's own decoder (what HiFi-GAN
reads) is left as it is; the export carries the trained copy, and ``load_codec(…, vocoder="istft")`` puts it in.

    python -m model.codec.vocoder_distill --codec checkpoints/codec --run runs/istft-recording --target recording \
        --complex-weight 0 --steps 8000 --eval-dev dev_set/manifest.json     # start, or resume the same run
    python -m model.codec.vocoder_distill --run runs/istft-joint --target recording --complex-weight 0 --joint \
        --init-from runs/istft-recording --lr 1e-4 --warmup 100 --steps 4000 --schedule-steps 4000
    python -m model.codec.vocoder_distill --run runs/istft-joint --export checkpoints/codec

The export writes ``istft_vocoder.safetensors`` into the codec's folder; ``load_codec(…, vocoder="istft")``
(the app's and CLI's ``--vocoder istft``) decodes with it.

``--vocoder hifigan --joint`` does the same for the default path: only a copy of the mel decoder learns, through
the codec's tuned HiFi-GAN, frozen (its tuning fitted the codec's own decoded mels; this fits the decoder to
it). The export adds that decoder to the folder's ``vocoder.safetensors``, and ``load_codec`` decodes with both.

    python -m model.codec.vocoder_distill --run runs/hifigan-joint --vocoder hifigan --joint --target recording \
        --complex-weight 0 --lr 1e-4 --warmup 100 --batch 4 --segment-frames 48 --steps 2000 --schedule-steps 2000
    python -m model.codec.vocoder_distill --run runs/hifigan-joint --export checkpoints/codec
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import json
import logging
import random
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from model.audio import SAMPLE_RATE, load_audio, resample
from model.codec.io import VOCODERS
from model.codec.istft_vocoder import (
    WEIGHTS_NAME,
    ISTFTVocoder,
    ISTFTVocoderConfig,
    save_istft_vocoder,
)
from model.codec.model import DECODER_PARTS, decode_latent
from model.codec.model import WEIGHTS_NAME as CODEC_WEIGHTS_NAME
from model.codec.vocoder import TUNED_NAME, add_tuned_decoder, file_sha256
from model.codec.vocoder_tune import VocoderRun, fooling_losses, open_run, sample_batch, stft_loss, train_vocoder

logger = logging.getLogger("model.codec.vocoder_distill")


@dataclass(frozen=True)
class DistillConfig:
    manifest: str = "train_set/manifest.json"
    minutes: float = 45.0  # of training-set audio given to the teacher (HiFi-GAN on a CPU: ~10 min of work)
    coarse_share: float = 0.2  # share of clips also decoded from levels 0–1 only (what prompts hear)
    batch: int = 8
    segment_frames: int = 64  # 0.74 s
    lr: float = 5e-4
    warmup: int = 500
    schedule_steps: int = 12000  # the cosine's fixed horizon: a resumed run follows the same curve
    stft_resolutions: tuple[tuple[int, int], ...] = ((512, 128), (1024, 256), (2048, 512))
    target: str = "teacher"  # or "recording": fit the clip that was encoded, as vocoder_tune does (no teacher)
    complex_weight: float = 1.0
    adversarial: bool = False  # spectrogram critics (vocoder_tune's), teacher vs. student, on top of the rest
    adversarial_weight: float = 0.1
    matching_weight: float = 0.2
    compression: float = 0.3  # |S|^0.3 in the complex loss, so quiet bins' phase counts too
    joint: bool = False  # also train (a copy of) the codec's mel decoder, end to end through the student
    # "istft": the student is the light vocoder; "hifigan": the codec's tuned HiFi-GAN, frozen (joint runs only:
    # the decoder copy is all that learns).
    vocoder: str = "istft"
    # Decoded around each segment in a joint run. The mel decoder reaches ±64 frames; on a development clip a
    # window with ±40 decodes its middle within 8e-4 of the whole clip's decoding (mean 3e-5), with ±20 within 0.11.
    context_frames: int = 40
    save_every: int = 200
    eval_every: int = 1000
    seed: int = 0
    student: ISTFTVocoderConfig = field(default_factory=ISTFTVocoderConfig)

    @classmethod
    def from_dict(cls, data: dict) -> DistillConfig:
        data = dict(data)
        data["stft_resolutions"] = tuple(tuple(r) for r in data["stft_resolutions"])
        data["student"] = ISTFTVocoderConfig(**data["student"])
        return cls(**data)


# --- data ---------------------------------------------------------------------------------------------------
def teacher_pairs(codec, manifest: Path, config: DistillConfig) -> list[dict[str, torch.Tensor]]:
    """Clips of the manifest drawn at random up to ``config.minutes``, each encoded and decoded by ``codec`` (all
    levels; a share also from levels 0–1) and vocoded by the codec's own vocoder (the teacher) — or, with
    ``config.target == "recording"``, paired with the clip itself:
    [{"mel": (80, T) float16, "wav": (T · hop,) float16 at the vocoder's rate}]. A joint run
    (``config.joint``, recordings only) keeps what the mel decoder reads instead of the mel it made:
    [{"latent": (D, T) float16, "pitch": (82, T) float16 (absent from a levels-0–1 pair), "wav": …}]."""
    if config.target not in ("teacher", "recording"):
        raise ValueError(f"Unknown distillation target {config.target!r}: teacher or recording.")
    if config.joint and config.target != "recording":
        raise ValueError("A joint run trains the mel decoder too, so it fits the recordings: use --target recording.")

    def pair(levels: list[torch.Tensor], frames: int, recording: torch.Tensor) -> dict[str, torch.Tensor]:
        if config.joint:
            latent, pitch = codec.decoder_inputs(levels, frames)
            inputs = {"latent": latent[0].half()} | ({"pitch": pitch[0].half()} if pitch is not None else {})
            return inputs | {"wav": recording.half()}
        mel = codec.decoder_mel(levels, frames)
        wav = torch.from_numpy(codec.vocode(mel)) if config.target == "teacher" else recording
        return {"mel": mel[0].half(), "wav": wav.half()}

    clips = json.loads(Path(manifest).read_text())["clips"]
    rng = random.Random(config.seed)
    rng.shuffle(clips)
    pairs, seconds = [], 0.0
    for clip in clips:
        if seconds >= config.minutes * 60:
            break
        audio = load_audio(Path(manifest).parent / clip["path"])
        seconds += audio.duration
        with torch.inference_mode():
            codes = codec.encode(audio)
            levels = [torch.as_tensor(c, dtype=torch.long) for c in codec._from_codes(codes)]
            frames = codec.mel_frames(len(audio.samples))
            variants = [levels, levels[:2]] if rng.random() < config.coarse_share else [levels]
            hop, rate = codec.config.mel_hop, codec.config.mel_rate
            recording = torch.from_numpy(resample(audio.samples, SAMPLE_RATE, rate).astype(np.float32))
            recording = F.pad(recording, (0, max(0, frames * hop - len(recording))))[: frames * hop]
            pairs.extend(pair(kept, frames, recording) for kept in variants)
        if len(pairs) % 100 == 0:
            logger.info("%d pairs, %.1f of %.0f min of audio", len(pairs), seconds / 60, config.minutes)
    return pairs


def sample_windows(pairs: list[dict], config: DistillConfig, rng: random.Random, hop: int) -> tuple[list, torch.Tensor]:
    """A joint run's batch: for each of ``config.batch`` pairs drawn by length, the decoder inputs around a random
    segment (``config.context_frames`` each side, as far as the clip goes) with where the segment lies in them,
    and the (B, segment · hop) target waveforms (short clips padded with silence)."""
    weights = [p["latent"].shape[-1] for p in pairs]
    windows, wavs = [], []
    for pair in rng.choices(pairs, weights=weights, k=config.batch):
        frames = pair["latent"].shape[-1]
        start = rng.randrange(max(1, frames - config.segment_frames + 1))
        first = max(0, start - config.context_frames)
        last = min(frames, start + config.segment_frames + config.context_frames)
        pitch = pair["pitch"][:, first:last].float()[None] if "pitch" in pair else None
        windows.append((pair["latent"][:, first:last].float()[None], pitch, start - first))
        wav = pair["wav"][start * hop : (start + config.segment_frames) * hop].float()
        wavs.append(F.pad(wav, (0, config.segment_frames * hop - len(wav))))
    return windows, torch.stack(wavs)


class JointStudent(nn.Module):
    """A copy of the codec's mel decoder (``decoder``, and with pitch ``pitch_in`` and ``harmonic_depth``) and the
    light vocoder, trained end to end on the recordings: the decoder no longer has to make a log-mel that an L1
    loss likes, only one this vocoder turns into the clip. ``forward`` takes ``sample_windows``' windows."""

    def __init__(self, codec, vocoder: ISTFTVocoder, segment_frames: int):
        super().__init__()
        for name in DECODER_PARTS:
            if hasattr(codec, name):
                setattr(self, name, copy.deepcopy(getattr(codec, name)))
        self.vocoder = vocoder
        self.segment_frames = segment_frames

    def forward(self, windows: list) -> torch.Tensor:
        mels = []
        for latent, pitch, offset in windows:
            mel = decode_latent(self, latent, pitch)[0, :, offset : offset + self.segment_frames]
            mels.append(F.pad(mel, (0, self.segment_frames - mel.shape[-1]), value=float(np.log(1e-5))))
        return self.vocoder(torch.stack(mels))

    def decoder_state(self) -> dict[str, torch.Tensor]:
        """The trained mel decoder's weights under the codec's own names."""
        return {k: v for k, v in self.state_dict().items() if k.startswith(tuple(f"{n}." for n in DECODER_PARTS))}


# --- loss ---------------------------------------------------------------------------------------------------
def complex_loss(output: torch.Tensor, target: torch.Tensor, n_fft: int, hop: int, power: float) -> torch.Tensor:
    """Mean |S_out^c − S_target^c| of power-compressed complex STFTs (magnitude^power, phase kept)."""
    window = torch.hann_window(n_fft, device=output.device)
    spectra = []
    for wav in (output, target):
        spectrum = torch.stft(wav, n_fft, hop, n_fft, window, return_complex=True)
        magnitude = spectrum.abs().clamp(min=1e-7)
        spectra.append(spectrum * (magnitude**power / magnitude))
    return (spectra[0] - spectra[1]).abs().mean()


def distill_loss(
    student: ISTFTVocoder | JointStudent, to_mel, batch, wav: torch.Tensor, config: DistillConfig, critics=None
) -> dict:
    """The student's losses on one batch (decoded mels, or a joint student's windows; with the critics' losses
    when given); "output" holds what it made."""
    output = student(batch)[:, 0, : wav.shape[-1]]
    mel_l1 = (to_mel(output) - to_mel(wav)).abs().mean()
    stft = stft_loss(output, wav, config.stft_resolutions)
    phase = complex_loss(output, wav, config.student.n_fft, config.student.hop, config.compression)
    losses = {"loss": mel_l1 + stft + config.complex_weight * phase, "mel_l1": mel_l1, "stft": stft, "complex": phase}
    if critics is not None:
        losses |= fooling_losses(critics, output, wav)
        adversarial = config.adversarial_weight * losses["fooling"] + config.matching_weight * losses["matching"]
        losses["loss"] = losses["loss"] + adversarial
    return losses | {"output": output}


# --- training -----------------------------------------------------------------------------------------------
def distill(
    run: Path,
    codec,
    config: DistillConfig,
    steps: int,
    evaluator=None,
    pairs: list[dict] | None = None,
    minutes: float | None = None,
    init_from: Path | None = None,
) -> ISTFTVocoder | JointStudent:
    """Train the student (the light vocoder, or with ``config.joint`` a ``JointStudent``) until ``steps`` (or
    ``minutes`` of wall time); resumes from ``run/state.pt``, or a new run starts from the student of
    ``init_from`` (another run's folder; its own optimiser and schedule; a joint run takes a plain run's
    vocoder and the codec's mel decoder). Pairs are cached in ``run/pairs.pt`` (or given, for tests). Returns
    the student in eval mode."""
    resumed, config, pairs = open_run(run, config, pairs, lambda c: teacher_pairs(codec, Path(c.manifest), c))
    torch.manual_seed(config.seed)
    student = _student(codec, config)
    if init_from is not None and not resumed:
        _start_from(student, Path(init_from), config)
    student.train()
    learning = [p for p in student.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(learning, lr=config.lr, betas=(0.8, 0.99), weight_decay=0.01)

    def step_loss(batch, wav: torch.Tensor, critics) -> tuple[dict, torch.Tensor]:
        losses = distill_loss(student, codec.mel, batch, wav, config, critics)
        return losses, losses.pop("output")

    def evaluate() -> dict:
        with installed(codec, student.eval()):
            scores = evaluator(codec)
        student.train()
        return scores

    sample = sample_windows if config.joint else sample_batch
    train_vocoder(
        VocoderRun(run, "student", student, learning, optimizer, config, 20, sample),
        pairs,
        step_loss,
        codec.config.mel_hop,
        steps,
        resumed,
        evaluate if evaluator is not None else None,
        minutes,
    )
    return student.eval().requires_grad_(False)


def _student(codec, config: DistillConfig) -> ISTFTVocoder | JointStudent:
    """A new light vocoder (alone, or with a copy of the codec's mel decoder), or a copy of the mel decoder
    before the codec's own HiFi-GAN, which stays frozen (float32: gradients pass through it)."""
    if config.vocoder not in VOCODERS:
        raise ValueError(f"Unknown student vocoder {config.vocoder!r}: choose one of {', '.join(VOCODERS)}.")
    if config.vocoder == "istft":
        vocoder = ISTFTVocoder(config.student)
        return JointStudent(codec, vocoder, config.segment_frames) if config.joint else vocoder
    if not config.joint:
        raise ValueError("With --vocoder hifigan only the mel decoder learns: add --joint (and --target recording).")
    return JointStudent(codec, codec.vocoder.float().requires_grad_(False), config.segment_frames)


def _start_from(student: ISTFTVocoder | JointStudent, init_from: Path, config: DistillConfig) -> None:
    """Load another run's student into this new run's: the whole of it, or (a joint run from a plain run) its
    vocoder."""
    start = torch.load(init_from / "state.pt", weights_only=True)
    start_config = DistillConfig.from_dict(start["config"])
    if start_config.student != config.student or (start_config.joint and not config.joint):
        raise ValueError(f"{init_from} trained a student of another design; start this run from scratch.")
    target = student.vocoder if config.joint and not start_config.joint else student
    target.load_state_dict(start["student"])


@contextlib.contextmanager
def installed(codec, student: ISTFTVocoder | JointStudent):
    """``codec`` decoding through ``student`` (its vocoder, and a joint student's mel decoder too) inside the
    ``with``; its own parts are put back after."""
    parts = ("vocoder", *DECODER_PARTS) if isinstance(student, JointStudent) else ("vocoder",)
    own = {name: getattr(codec, name) for name in parts if hasattr(student, name)}
    if not isinstance(student, JointStudent):
        codec.vocoder = student
    else:
        for name in own:
            setattr(codec, name, getattr(student, name))
    try:
        yield codec
    finally:
        for name, module in own.items():
            setattr(codec, name, module)


def export(run: Path, folder: Path) -> Path:
    """The run's student as ``folder/istft_vocoder.safetensors`` (int8 rows), beside a codec checkpoint; a joint
    run's mel decoder goes into the same file, and ``load_codec(…, vocoder="istft")`` decodes with both. The
    metadata records the step and the SHA-256 of the codec weights it was trained for."""
    state_path = run / "state.pt"
    if not state_path.exists():
        raise ValueError(f"{run} has no training state to export (no state.pt).")
    state = torch.load(state_path, weights_only=True)
    config = DistillConfig.from_dict(state["config"])
    if config.vocoder == "hifigan":  # only the decoder learned: it joins the tuned generator's file
        decoder = {k: v for k, v in state["student"].items() if not k.startswith("vocoder.")}
        metadata = {"decoder_step": str(state["step"]), "decoder_target": config.target}
        return add_tuned_decoder(Path(folder) / TUNED_NAME, decoder, metadata)
    student, decoder = ISTFTVocoder(config.student), None
    if config.joint:  # the vocoder's weights are the ones under "vocoder.", the rest is the mel decoder
        vocoder = {k.removeprefix("vocoder."): v for k, v in state["student"].items() if k.startswith("vocoder.")}
        decoder = {k: v for k, v in state["student"].items() if not k.startswith("vocoder.")}
        student.load_state_dict(vocoder)
    else:
        student.load_state_dict(state["student"])
    metadata = {"step": str(state["step"]), "target": config.target}  # "teacher": the tuned HiFi-GAN
    if (Path(folder) / CODEC_WEIGHTS_NAME).is_file():
        metadata["codec_sha256"] = file_sha256(Path(folder) / CODEC_WEIGHTS_NAME)
    Path(folder).mkdir(parents=True, exist_ok=True)
    return save_istft_vocoder(student, Path(folder) / WEIGHTS_NAME, metadata, decoder)


def main(argv: list[str] | None = None) -> None:
    from model.codec.io import load_codec

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True, help="run folder: state, teacher pairs, log")
    parser.add_argument("--codec", type=Path, default=Path("checkpoints/codec"), help="codec and teacher")
    parser.add_argument("--manifest", default=DistillConfig.manifest)
    parser.add_argument("--steps", type=int, default=DistillConfig.schedule_steps, help="train up to this step")
    parser.add_argument("--schedule-steps", type=int, default=DistillConfig.schedule_steps, help="cosine horizon")
    parser.add_argument("--minutes", type=float, help="stop after this much wall time (state is saved)")
    parser.add_argument("--data-minutes", type=float, default=DistillConfig.minutes, help="audio for the teacher")
    parser.add_argument(
        "--complex-weight", type=float, default=DistillConfig.complex_weight, help="0: no phase supervision"
    )
    parser.add_argument(
        "--target", choices=("teacher", "recording"), default="teacher", help="what the student fits (a new run)"
    )
    parser.add_argument("--adversarial", action="store_true", help="add spectrogram critics (a new run)")
    parser.add_argument(
        "--joint", action="store_true", help="train the codec's mel decoder with the student (a new run; recordings)"
    )
    parser.add_argument(
        "--vocoder", choices=VOCODERS, default="istft", help="the student: the light vocoder, or the frozen HiFi-GAN"
    )
    parser.add_argument("--batch", type=int, default=DistillConfig.batch, help="segments per step (a new run)")
    parser.add_argument("--segment-frames", type=int, default=DistillConfig.segment_frames, help="(a new run)")
    parser.add_argument("--init-from", type=Path, help="a new run starts from this run's student")
    parser.add_argument("--lr", type=float, default=DistillConfig.lr)
    parser.add_argument("--warmup", type=int, default=DistillConfig.warmup)
    parser.add_argument("--eval-dev", type=Path, help="dev manifest: log PESQ/STOI on a few clips every eval")
    parser.add_argument("--eval-every", type=int, default=DistillConfig.eval_every, help="steps between evals")
    parser.add_argument("--export", type=Path, help="write the student into this codec folder and stop")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.export:
        print(export(args.run, args.export))
        return
    # float32: a HiFi-GAN student passes gradients; the teacher's pairs are made the same way.
    codec = load_codec(args.codec, vocoder="hifigan", vocoder_dtype="float32")
    evaluator = None
    if args.eval_dev:
        from model.codec.evaluate import QuickEval

        evaluator = QuickEval(args.eval_dev)
    config = replace(
        DistillConfig(),
        manifest=args.manifest,
        minutes=args.data_minutes,
        schedule_steps=args.schedule_steps,
        complex_weight=args.complex_weight,
        target=args.target,
        adversarial=args.adversarial,
        joint=args.joint,
        vocoder=args.vocoder,
        batch=args.batch,
        segment_frames=args.segment_frames,
        eval_every=args.eval_every,
        lr=args.lr,
        warmup=args.warmup,
    )
    distill(args.run, codec, config, args.steps, evaluator=evaluator, minutes=args.minutes, init_from=args.init_from)


if __name__ == "__main__":
    main()
