"""Train the speech adapter by distillation (after Kang & Roy 2024): no labelled answers, only the LLM itself.

For each training clip the frozen LLM first answers the instruction with the clip's *transcript* in place of
``<speech>`` (greedy, up to ``response_tokens``, plus its stop token); its top-k next-token distributions along
that response are kept. The adapter is then trained so that the LLM, given the clip's *speech embeddings*
instead, predicts the same distributions at the same positions (soft cross-entropy on the teacher's top k,
renormalised — KL up to a constant). Gradients flow through the frozen LLM into the adapter only.

With ``--align-steps N`` the adapter is *aligned* (``model.speech.adapter``): the first N steps train it with CTC
alone against every training clip's transcript tokens (read-aloud text included; no LLM pass, so they are
cheap), then the distillation reads its CTC-compressed outputs, with the CTC loss kept beside it. With
``--head characters`` the head spells (``model.speech.spelling``) and the run is the alignment stage alone.

    python -m model.speech.train --run runs/ask-smollm2 --lm tiny --steps 1500     # start, or resume the run
    python -m model.speech.train --run runs/ask-aligned --lm tiny --align-steps 3000 --schedule-steps 4000
    python -m model.speech.train --run runs/ask-chars --lm default --head characters --stack 1 --context 2 \
        --align-steps 3000 --schedule-steps 3000
    python -m model.speech.train --run runs/ask-smollm2 --export checkpoints/speech-adapter-smollm2-135m

Seeded, ``accelerate``-driven, resumable: ``state.pt`` (adapter, optimiser, step, sampler state) every
``save_every`` steps; the run folder caches the Whisper frames and the teacher's responses (``data.pt``).
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import random
import re
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch

from model.schedule import warmup_cosine
from model.speech.adapter import HEADS, READS, AdapterConfig, SpeechAdapter
from model.speech.spelling import WORDS_NAME, spell

logger = logging.getLogger("model.speech.train")


@dataclass
class AskTrainConfig:
    manifest: str = "ask_set/manifest.json"
    lm: str = "tiny"
    schedule_steps: int = 1500  # warm-up, then cosine to 10 % at this step (the run's fixed horizon)
    batch: int = 4
    lr: float = 1e-3
    warmup: int = 50
    hidden: int = 1024
    stack: int = 4
    context: int = 0  # temporal-context blocks in the adapter (``AdapterConfig.context``)
    encoder_layers: int = 6
    top_k: int = 64
    response_tokens: int = 24
    align_steps: int = 0  # > 0: an aligned adapter, trained first this many steps with CTC alone (no LLM pass)
    align_batch: int = 32
    ctc_weight: float = 0.5  # aligned: the CTC loss kept beside the distillation, so the alignment holds
    ctc_negatives: int = 1024  # tokens scored per CTC step besides the batch's own (0: the whole vocabulary)
    reads: str = "tokens"  # aligned: what the LLM reads per compressed run (``AdapterConfig.reads``)
    head: str = "tokens"  # aligned: what the CTC head scores (``AdapterConfig.head``; "characters": alignment only)
    match_weight: float = 1.0  # alignment stage: pull the frames read as a transcript token onto its embedding
    frames_from: str = ""  # another run on the same manifest whose cached Whisper frames to reuse
    init_from: str = ""  # another run whose adapter weights a new run starts from (its head's vocabulary is re-read)
    seed: int = 0
    log_every: int = 10
    save_every: int = 50

    @classmethod
    def from_dict(cls, data: dict) -> AskTrainConfig:
        return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})


def learning_rate(config: AskTrainConfig, step: int) -> float:
    """Warm-up then cosine to 10 %, per stage: the alignment stage over ``align_steps``, the distillation from
    there to ``schedule_steps``."""
    start, end = (0, config.align_steps) if step < config.align_steps else (config.align_steps, config.schedule_steps)
    return warmup_cosine(step - start, end - start, config.lr, config.warmup)


def teacher_example(pipeline, instruction: str, text: str, config: AskTrainConfig) -> dict:
    """The LLM's own response to the transcript, with its top-k log-probs at each response position."""
    framed = pipeline.frame(instruction)
    prompt = pipeline.text_ids(framed, text)
    # ids, not text: re-encoding the decoded answer could tokenize differently
    response = list(pipeline.generate_ids(pipeline.embed_ids(prompt)[None], config.response_tokens))
    with torch.no_grad():
        ids = torch.tensor(prompt + response, device=pipeline.lm.device)[None]
        logits = pipeline.lm.model(input_ids=ids).logits[0, len(prompt) - 1 :].float()  # response + its stop
    values, indices = torch.log_softmax(logits, dim=-1).topk(min(config.top_k, logits.shape[-1]), dim=-1)
    return {
        "before": framed.before,
        "after": framed.after,
        "response": response,
        "top_values": values.cpu().half(),
        "top_ids": indices.cpu().int(),
    }


def clip_frames(pipeline, manifest: Path, clip: dict, known: dict[str, torch.Tensor]) -> torch.Tensor:
    """A clip's Whisper frames (float16): from ``known`` (another run's, by path) or computed."""
    from model.audio import load_audio

    if clip["path"] in known:
        return known[clip["path"]]
    samples = load_audio(manifest.parent / clip["path"], limits=pipeline.limits).samples
    return pipeline.features(samples).half().cpu()


def known_frames(run: str) -> dict[str, torch.Tensor]:
    """The Whisper frames another run's alignment cache holds, by clip path (they depend on the audio and the
    encoder block only, not on the LLM: a second LLM's run need not recompute them)."""
    if not run:
        return {}
    path = Path(run) / "align.pt"
    cache = torch.load(path, weights_only=True)
    return {item["path"]: item["frames"] for item in cache["items"]}


def prepare(pipeline, manifest: Path, config: AskTrainConfig, known: dict | None = None) -> list[dict]:
    """Training items: Whisper frames (float16) per clip and the teacher's responses per distinct prompt."""
    clips = [c for c in json.loads(manifest.read_text())["clips"] if c["split"] == "train" and c["instruction"]]
    teachers: dict[tuple[str, str], dict] = {}
    items = []
    for i, clip in enumerate(clips):
        key = (clip["instruction"], clip["text"])
        if key not in teachers:
            teachers[key] = teacher_example(pipeline, *key, config)
        frames = clip_frames(pipeline, manifest, clip, known or {})
        items.append({"frames": frames, "ids": pipeline.lm.encode_text(clip["text"]), **teachers[key]})
        if i % 100 == 0:
            logger.info("prepared %d / %d clips (%d distinct prompts)", i, len(clips), len(teachers))
    return items


def prepare_alignment(pipeline, manifest: Path, known: dict | None = None) -> dict:
    """Every training clip's Whisper frames (float16) and transcript ids, and the vocabulary the CTC head scores
    (the tokens of those transcripts: blank-or-token and where a token changes is all the compression needs)."""
    clips = [c for c in json.loads(manifest.read_text())["clips"] if c["split"] == "train"]
    items = []
    for i, clip in enumerate(clips):
        frames = clip_frames(pipeline, manifest, clip, known or {})
        text = clip["text"]
        items.append({"path": clip["path"], "frames": frames, "ids": pipeline.lm.encode_text(text), "text": text})
        if i % 500 == 0:
            logger.info("alignment: %d / %d clips", i, len(clips))
    vocabulary = sorted({token for item in items for token in item["ids"]})
    return {"items": items, "vocabulary": torch.tensor(vocabulary, dtype=torch.long)}


def ctc_loss(
    adapter: SpeechAdapter,
    speech: list[torch.Tensor],
    ids: list[list[int]],
    table: torch.Tensor,
    negatives: int = 0,
    rng: random.Random | None = None,
) -> torch.Tensor:
    """Mean CTC loss of speech embeddings (each (T, D)) against transcript ids (tokens outside the adapter's
    vocabulary are left out of the target). ``negatives`` > 0 scores, besides the blank, only the batch's own
    tokens and that many others drawn from the vocabulary (a sampled softmax: the full one costs T × V × D per
    frame, most of a CPU step); the argmax the compression takes stays over the whole vocabulary."""
    vocabulary = adapter.vocabulary
    targets = [adapter.vocabulary_index(torch.tensor(i, dtype=torch.long, device=table.device)) for i in ids]
    targets = [t[t >= 0] for t in targets]  # indices into the vocabulary
    classes = torch.arange(len(vocabulary), device=table.device)
    if 0 < negatives < len(vocabulary):
        drawn = torch.tensor((rng or random).sample(range(len(vocabulary)), negatives), device=table.device)
        classes = torch.unique(torch.cat([drawn, *targets]))
    column = torch.full((len(vocabulary),), -1, dtype=torch.long, device=table.device)
    column[classes] = torch.arange(1, len(classes) + 1, device=table.device)  # 0: blank
    lengths = [len(x) for x in speech]
    logits = adapter.token_logits(torch.cat(speech), table, classes)  # packed frames: no padding is scored
    log_probs = torch.log_softmax(logits.float(), dim=-1).split(lengths)
    return torch.nn.functional.ctc_loss(
        torch.nn.utils.rnn.pad_sequence(list(log_probs)),  # (T, B, 1 + C)
        torch.cat([column[t] for t in targets]),
        torch.tensor(lengths),
        torch.tensor([len(t) for t in targets]),
        zero_infinity=True,  # a clip too fast for 12.5 Hz contributes nothing rather than infinity
    )


def character_ctc_loss(adapter: SpeechAdapter, speech: list[torch.Tensor], texts: list[str]) -> torch.Tensor:
    """Mean CTC loss of a character head on speech embeddings (each (T, D)) against the transcripts' spelling."""
    targets = [torch.tensor(spell(text), dtype=torch.long) for text in texts]
    lengths = [len(x) for x in speech]
    logits = adapter.character_logits(torch.cat(speech))  # packed frames: no padding is scored
    log_probs = torch.log_softmax(logits.float(), dim=-1).split(lengths)
    return torch.nn.functional.ctc_loss(
        torch.nn.utils.rnn.pad_sequence(list(log_probs)),  # (T, B, 1 + letters)
        torch.cat(targets).to(logits.device),
        torch.tensor(lengths),
        torch.tensor([len(t) for t in targets]),
        zero_infinity=True,  # a clip spoken faster than the frame rate allows contributes nothing
    )


def alignment_loss(
    pipeline,
    adapter: SpeechAdapter,
    batch: list[dict],
    negatives: int = 0,
    rng: random.Random | None = None,
    match_weight: float = 0.0,
) -> tuple[torch.Tensor, float]:
    device = pipeline.lm.device
    table = pipeline.lm.model.get_input_embeddings().weight.detach().float()
    speech = [adapter(item["frames"].float().to(device)) for item in batch]
    if adapter.spells:
        ctc = character_ctc_loss(adapter, speech, [item["text"] for item in batch])
        return ctc, ctc.item()
    ids = [item["ids"] for item in batch]
    ctc = ctc_loss(adapter, speech, ids, table, negatives, rng)
    loss = ctc + match_weight * match_loss(adapter, speech, ids, table) if match_weight else ctc
    return loss, ctc.item()  # the log's "ctc"; its "loss" is the total


def match_loss(adapter: SpeechAdapter, speech: list[torch.Tensor], ids: list[list[int]], table: torch.Tensor):
    """1 − cosine between each frame the head reads as a token of its transcript and that token's embedding
    (the embedding-level match of Kang & Roy, on the frames CTC has aligned): CTC needs only the right argmax,
    a cosine of ~0.5; the frozen LLM reads its input better the nearer it is to its own embeddings."""
    read = adapter.best_tokens(torch.cat(speech), table).split([len(x) for x in speech])  # all clips at once
    distances = []
    for frames, tokens, best in zip(speech, ids, read, strict=True):
        hit = torch.isin(best, torch.tensor(tokens, dtype=torch.long, device=best.device))  # never the blank's -1
        if bool(hit.any()):
            rows = table[best[hit]]
            distances.append(1 - torch.nn.functional.cosine_similarity(frames[hit], rows, dim=-1))
    return torch.cat(distances).mean() if distances else speech[0].sum() * 0


def distillation_loss(
    pipeline,
    adapter: SpeechAdapter,
    batch: list[dict],
    ctc_weight: float = 0.0,
    negatives: int = 0,
    rng: random.Random | None = None,
) -> tuple[torch.Tensor, float]:
    """Soft cross-entropy of the LLM given speech against the teacher's top-k, and the KL for the log."""
    device = pipeline.lm.device
    table = pipeline.lm.model.get_input_embeddings().weight.detach()
    rows, spans, frame_level = [], [], []
    for item in batch:
        speech = adapter(item["frames"].float().to(device))
        frame_level.append(speech)
        speech = adapter.compress(speech, table)
        text = pipeline.embed_ids(item["before"]), pipeline.embed_ids(item["after"])
        response = pipeline.embed_ids(item["response"]) if item["response"] else speech[:0]
        row = torch.cat([text[0], speech, text[1], response])
        start = len(item["before"]) + len(speech) + len(item["after"]) - 1
        rows.append(row)
        spans.append((start, len(item["response"]) + 1))
    length = max(len(r) for r in rows)
    inputs = torch.stack([torch.nn.functional.pad(r, (0, 0, 0, length - len(r))) for r in rows])
    mask = torch.stack([torch.arange(length, device=device) < len(r) for r in rows]).long()
    logits = pipeline.lm.model(inputs_embeds=inputs, attention_mask=mask).logits
    losses, kls = [], []
    for b, (item, (start, count)) in enumerate(zip(batch, spans, strict=True)):
        student = torch.log_softmax(logits[b, start : start + count].float(), dim=-1)
        teacher = torch.softmax(item["top_values"][:count].float().to(device), dim=-1)  # renormalised top-k
        picked = student.gather(1, item["top_ids"][:count].long().to(device))
        losses.append(-(teacher * picked).sum(-1).mean())
        kls.append(float((teacher * (teacher.clamp_min(1e-9).log() - picked.detach())).sum(-1).mean()))
    loss = torch.stack(losses).mean()
    if adapter.config.aligned and ctc_weight:
        loss = loss + ctc_weight * ctc_loss(
            adapter, frame_level, [item["ids"] for item in batch], table.float(), negatives, rng
        )
    return loss, sum(kls) / len(kls)


def train(
    run: Path,
    config: AskTrainConfig,
    steps: int | None,
    minutes: float | None = None,
    pipeline=None,
    extend: dict | None = None,
) -> int:
    """Train until ``steps`` (or ``minutes``); resumes ``run/state.pt``. ``pipeline``: an ``AskPipeline`` whose LLM
    computes in float32 (tests inject a tiny one; by default the bundled ``config.lm``). ``extend``: settings that
    change a resumed run's plan (``align_steps``, ``schedule_steps``, ``match_weight``: a longer alignment stage,
    say); the learning rate then follows the new plan from the step reached."""
    from accelerate import Accelerator

    run.mkdir(parents=True, exist_ok=True)
    state_path = run / "state.pt"
    resumed = torch.load(state_path, weights_only=True) if state_path.exists() else None
    if resumed:
        config = AskTrainConfig.from_dict(resumed["config"] | {"manifest": config.manifest} | (extend or {}))
    steps = config.schedule_steps if steps is None else steps
    if config.head == "characters" and (not config.align_steps or steps > config.align_steps):
        raise ValueError(
            "A character head trains the alignment stage only (the LLM reads its transcript as tokens, which passes "
            "no gradient): give --align-steps, and --steps no more than it."
        )
    torch.manual_seed(config.seed)
    if pipeline is None:
        pipeline = _float32_pipeline(config)
    manifest = Path(config.manifest)

    # another run's frames are read only while a cache is built: held through training they would double its memory
    def teacher_items() -> list[dict]:  # the distillation's items: prepared when that stage first needs them
        return _cached(run / "data.pt", lambda: prepare(pipeline, manifest, config, known_frames(config.frames_from)))

    alignment = (
        _cached(run / "align.pt", lambda: prepare_alignment(pipeline, manifest, known_frames(config.frames_from)))
        if config.align_steps
        else None
    )
    items = None if alignment else teacher_items()
    table = pipeline.lm.model.get_input_embeddings().weight.detach().float()
    adapter_config = AdapterConfig(
        lm=pipeline.lm.name,
        lm_dim=table.shape[1],
        encoder_dim=int((alignment["items"] if alignment else items)[0]["frames"].shape[1]),
        encoder_layers=config.encoder_layers,
        stack=config.stack,
        hidden=config.hidden,
        context=config.context,
        embedding_norm=float(table.norm(dim=1).median()),
        aligned=alignment is not None,
        vocabulary_size=len(alignment["vocabulary"]) if alignment and config.head == "tokens" else 0,
        reads=config.reads if alignment else "vectors",
        head=config.head if alignment else "tokens",
    )
    adapter = SpeechAdapter(adapter_config)
    if alignment and not adapter.spells:
        adapter.vocabulary.copy_(alignment["vocabulary"])
    optimizer = torch.optim.AdamW(adapter.parameters(), lr=config.lr, weight_decay=0.01)
    step, rng = 0, random.Random(config.seed)
    if config.init_from and not resumed:
        initial_weights(adapter, Path(config.init_from))
    if resumed:
        adapter.load_state_dict(resumed["adapter"])
        optimizer.load_state_dict(resumed["optimizer"])
        step = resumed["step"]
        version, internal, gauss = resumed["rng"]
        rng.setstate((int(version), tuple(int(x) for x in internal), gauss))
    accelerator = Accelerator(cpu=pipeline.lm.device.type == "cpu")
    adapter, optimizer = accelerator.prepare(adapter, optimizer)
    started = time.perf_counter()
    deadline = started + 60 * minutes if minutes else math.inf
    window: list[tuple[float, float]] = []
    while step < steps and time.perf_counter() < deadline:
        for group in optimizer.param_groups:
            group["lr"] = learning_rate(config, step)
        aligning = step < config.align_steps
        if aligning:
            batch = rng.sample(alignment["items"], min(config.align_batch, len(alignment["items"])))
            unwrapped = accelerator.unwrap_model(adapter)
            loss, kl = alignment_loss(pipeline, unwrapped, batch, config.ctc_negatives, rng, config.match_weight)
        else:
            items = items or teacher_items()
            batch = rng.sample(items, min(config.batch, len(items)))
            loss, kl = distillation_loss(
                pipeline, accelerator.unwrap_model(adapter), batch, config.ctc_weight, config.ctc_negatives, rng
            )
        optimizer.zero_grad(set_to_none=True)
        accelerator.backward(loss)
        accelerator.clip_grad_norm_(adapter.parameters(), 1.0)
        optimizer.step()
        step += 1
        window.append((loss.item(), kl))
        if step % config.log_every == 0:
            record = {"step": step, "loss": round(sum(w[0] for w in window) / len(window), 4)}
            record |= {
                "ctc" if aligning else "kl": round(sum(w[1] for w in window) / len(window), 4),
                "lr": round(learning_rate(config, step), 7),
            }
            record["seconds"] = round(time.perf_counter() - started, 1)
            _log(run, record)
            window = []
        if step % config.save_every == 0:
            _save(run, accelerator.unwrap_model(adapter), optimizer, step, rng, config)
    _save(run, accelerator.unwrap_model(adapter), optimizer, step, rng, config)
    return step


def initial_weights(adapter: SpeechAdapter, run: Path) -> None:
    """Start from another run's adapter (more data for the same design): every weight, but not the alignment
    head's vocabulary, which is the new data's."""
    state = torch.load(run / "state.pt", weights_only=True)
    mine = adapter.state_dict()
    theirs = {k: v for k, v in state["adapter"].items() if k != "vocabulary"}
    if differ := [k for k in mine if k != "vocabulary" and (k not in theirs or theirs[k].shape != mine[k].shape)]:
        raise ValueError(f"{run}'s adapter has another design ({', '.join(differ[:3])} differ); start afresh.")
    adapter.load_state_dict(theirs, strict=False)


def _cached(path: Path, make):
    """What was saved at ``path``, or the value of ``make()``, saved there first."""
    if path.exists():
        return torch.load(path, weights_only=True)
    value = make()
    torch.save(value, path)
    return value


def _float32_pipeline(config: AskTrainConfig):
    from model.lm.frozen import FrozenLM
    from model.speech.ask import AskPipeline
    from model.speech.features import SpeechFeatures

    lm = FrozenLM.from_pretrained(config.lm, dtype="float32")  # int8 layers have no backward pass
    return AskPipeline(lm, SpeechFeatures(config.encoder_layers).to(lm.device), None)


def _log(run: Path, record: dict) -> None:
    print(json.dumps(record), flush=True)
    with (run / "log.jsonl").open("a") as log:
        log.write(json.dumps(record) + "\n")


def _save(run: Path, adapter: SpeechAdapter, optimizer, step: int, rng: random.Random, config: AskTrainConfig):
    state = {
        "adapter": adapter.state_dict(),
        "adapter_config": asdict(adapter.config),
        "optimizer": optimizer.state_dict(),
        "step": step,
        "rng": rng.getstate(),
        "config": asdict(config),
    }
    tmp = run / "state.tmp"
    torch.save(state, tmp)
    tmp.replace(run / "state.pt")


def export(run: Path, out: Path, int8: bool = False) -> Path:
    state_path = run / "state.pt"
    if not state_path.exists():
        raise ValueError(f"{run} has no state.pt to export.")
    state = torch.load(state_path, weights_only=True)
    adapter = SpeechAdapter(AdapterConfig(**state["adapter_config"]))
    adapter.load_state_dict(state["adapter"])
    folder = adapter.save(out, int8=int8)
    manifest = Path(state["config"]["manifest"])
    if adapter.spells and manifest.is_file():  # the words it learnt to spell join the lexicon it is read with
        clips = json.loads(manifest.read_text())["clips"]
        words = {w for c in clips if c["split"] == "train" for w in re.findall(r"[A-Za-z][A-Za-z']*", c["text"])}
        # lower case, but names (never written lower case in the transcripts) keep their capital; "What", which
        # starts sentences, is "what"
        words = {w if w.lower() not in words else w.lower() for w in words}
        (folder / WORDS_NAME).write_text("\n".join(sorted(words)) + "\n")
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--run", type=Path, required=True)
    parser.add_argument("--manifest", default=AskTrainConfig.manifest)
    parser.add_argument("--lm", default=AskTrainConfig.lm, help="new runs only")
    parser.add_argument(
        "--context",
        type=int,
        default=AskTrainConfig.context,
        help="new runs only: the adapter's temporal-context blocks",
    )
    parser.add_argument(
        "--head",
        choices=HEADS,
        default=AskTrainConfig.head,
        help="new aligned runs: what the CTC head scores (characters: alignment stage only)",
    )
    parser.add_argument("--stack", type=int, default=AskTrainConfig.stack, help="new runs: encoder frames per output")
    parser.add_argument("--steps", type=int, help="train until this step (default: the run's schedule steps)")
    plan = parser.add_argument_group("the plan (new runs; on a resumed run, given ones change its plan)")
    plan.add_argument("--schedule-steps", type=int, help=f"the run's horizon (default {AskTrainConfig.schedule_steps})")
    plan.add_argument("--align-steps", type=int, help="a CTC alignment stage first: an aligned adapter (default 0)")
    plan.add_argument(
        "--match-weight", type=float, help=f"alignment's embedding match (default {AskTrainConfig.match_weight})"
    )
    plan.add_argument(
        "--reads", choices=READS, help=f"what the LLM reads of an aligned adapter (default {AskTrainConfig.reads!r})"
    )
    parser.add_argument("--frames-from", default="", help="reuse the Whisper frames of another run on this manifest")
    parser.add_argument("--init-from", default="", help="new runs: start from another run's adapter weights")
    parser.add_argument("--minutes", type=float)
    parser.add_argument("--export", type=Path, help="write the run's adapter here instead of training")
    parser.add_argument(
        "--int8", action="store_true", help="with --export: weight matrices as int8 rows (half the size)"
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.export:
        print(f"exported to {export(args.run, args.export, args.int8)}")
        return
    settings = ("schedule_steps", "align_steps", "match_weight", "reads")
    given = {k: getattr(args, k) for k in settings if getattr(args, k) is not None}
    config = AskTrainConfig(
        manifest=args.manifest,
        lm=args.lm,
        context=args.context,
        head=args.head,
        stack=args.stack,
        frames_from=args.frames_from,
        init_from=args.init_from,
        **given,
    )
    train(args.run, config, args.steps, args.minutes, extend=given)


if __name__ == "__main__":
    main()
