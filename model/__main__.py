"""Command line: ``python -m model COMMAND``. Run with ``--help`` for the commands.

python -m model tokens clip.wav                          # the codec's tokens per level, as text
python -m model classify q.wav --demo a.wav=yes --demo b.wav=no
python -m model enhance noisy_q.wav --pair n1.wav:c1.wav --out clean.wav
python -m model synthesize "3 1 2" --pair three=3.wav --pair one=1.wav --pair two=2.wav --out out.wav
python -m model fewshot --jsonl < requests.jsonl         # the fewshot-v1 protocol
python -m model --lm tiny ask question.wav --prompt "Answer in one word: <speech>" [--path cascade]
python -m model info --load                              # installed LLMs, caches, tables
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import logging
import sys
import time
from pathlib import Path


def _pipeline(args: argparse.Namespace):
    from model.icl.pipeline import ICLPipeline

    return ICLPipeline.from_pretrained(
        lm=args.lm,
        codec=args.codec,
        device=args.device,
        dtype=args.dtype,
        vocoder=args.vocoder,
        max_prompt_tokens=args.max_prompt_tokens,
    )


def _pair(value: str, sep: str, form: str, last: bool = False) -> tuple[str, str]:
    """Split ``value`` at the first (or last) ``sep`` into two non-empty parts; ``form`` names the syntax."""
    left, found, right = value.rpartition(sep) if last else value.partition(sep)
    if not found or not left or not right:
        raise ValueError(f"expected {form}, got {value!r}")
    return left, right


def cmd_tokens(args: argparse.Namespace) -> int:
    from model.audio import load_audio
    from model.codec.model import LLMCodec
    from model.vocab import VocabTables

    codec = LLMCodec.from_pretrained(args.codec)  # the codes are table strings: no LLM is needed to show them
    codes = codec.encode(load_audio(args.file))
    text = VocabTables.load().to_text(codes)
    for level, (words, rate) in enumerate(zip(text, codec.config.frame_rates, strict=True)):
        print(f"level {level} ({rate:.1f}/s, {len(words)} tokens): {' '.join(words)}")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    demos = [_pair(d, "=", "PATH=LABEL", last=True) for d in args.demo]
    result = _pipeline(args).classify(args.query, demos)
    print(json.dumps({"label": result.label, "scores": result.probs, "seconds": round(result.seconds, 3)}))
    return 0


def cmd_enhance(args: argparse.Namespace) -> int:
    from model.audio import save_audio

    pairs = [_pair(p, ":", "NOISY:CLEAN") for p in args.pair]
    result = _pipeline(args).enhance(pairs, args.query)
    print(f"wrote {save_audio(result.audio, args.out)} ({result.seconds:.1f} s)")
    return 0


def cmd_synthesize(args: argparse.Namespace) -> int:
    from model.audio import save_audio

    pairs = [_pair(p, "=", "TEXT=PATH") for p in args.pair]
    result = _pipeline(args).synthesize(pairs, args.text)
    print(f"wrote {save_audio(result.audio, args.out)} ({result.seconds:.1f} s)")
    return 0


def cmd_fewshot(args: argparse.Namespace) -> int:
    from model.icl.fewshot_protocol import FewShotServer
    from model.icl.pipeline import RECIPES

    options = RECIPES[args.recipe]
    if args.levels:  # the recipe at other codec levels, e.g. "0" or "0,1"
        levels = tuple(int(level) for level in args.levels.split(","))
        options = dataclasses.replace(options, prompt=dataclasses.replace(options.prompt, levels=levels))
    with contextlib.redirect_stdout(sys.stderr):  # stdout carries answers only: library chatter goes to stderr
        server = FewShotServer(_pipeline(args), options)
    for answer in server.serve(sys.stdin):
        print(answer, flush=True)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    """Stream the LLM's answer about a clip to stdout (the direct path, or the Whisper cascade)."""
    from model.speech.ask import AskPipeline

    pipeline = AskPipeline.from_pretrained(args.lm, adapter=args.adapter, device=args.device, dtype=args.dtype)
    if args.beam is not None:
        pipeline.listening = dataclasses.replace(pipeline.listening, beam=args.beam)
    started, shown, transcript = time.perf_counter(), "", ""
    for text, heard in pipeline.stream(args.file, args.prompt, args.path, args.max_new_tokens):
        if not args.json:
            print(text[len(shown) :], end="", flush=True)
        shown, transcript = text, heard
    seconds = time.perf_counter() - started
    if args.json:
        record = {"answer": shown.strip(), "path": args.path, "transcript": transcript, "seconds": round(seconds, 2)}
        print(json.dumps(record))
    else:
        print()
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    """Which bundled LLMs are installed and converted, the vocabulary tables, and (with --load) a load test."""
    from model.lm import store as lm_store
    from model.vocab import VocabTables

    tables = VocabTables.load()
    print(f"vocabulary tables: {len(tables.words)} words, {len(tables.subwords)} sub-words (hash {tables.hash})")
    print(f"cache: {lm_store.cache_root()}")
    for alias, name in lm_store.ALIASES.items():
        spec = lm_store.SPECS[name]
        try:
            lm_store.part_paths(spec)
            installed = "installed"
        except ValueError:
            installed = f"not installed ({spec.pip_install})"
        ready = "converted" if lm_store.is_ready(lm_store.prepared_folder(spec)) else "not converted yet"
        print(f"  {alias:8s} {name:20s} {installed}; {ready}")
    if args.load:
        return _load_report(args.lm, args.device)
    return 0


def _load_report(name: str, device: str) -> int:
    from model.lm.frozen import FrozenLM
    from model.vocab import VocabMap, VocabTables

    started = time.perf_counter()
    lm = FrozenLM.from_pretrained(name, device=device)
    print(
        f"loaded {lm.name} on {lm.device} in {time.perf_counter() - started:.1f} s "
        f"({sum(p.numel() for p in lm.model.parameters()) / 1e6:.0f} M parameters)"
    )
    vocab = VocabMap.for_tokenizer(VocabTables.load(), lm.tokenizer)
    print(
        f"tables bound to {lm.name}: {vocab.token_ids(0).numel()} word ids, {vocab.token_ids(1).numel()} sub-word ids"
    )
    prompt = lm.encode_text("The three primary colours are")
    started = time.perf_counter()
    ids = lm.generate(prompt, [list(range(lm.vocab_size))], 8)
    print(f"greedy continuation ({time.perf_counter() - started:.2f} s): {lm.tokenizer.decode(ids)!r}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    from model.icl.pipeline import DEFAULT_CODEC

    parser = argparse.ArgumentParser(
        prog="python -m model", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    parser.add_argument("--lm", default="default", help="LLM: default, large, tiny, a bundled name, a folder or hub id")
    parser.add_argument("--codec", default=str(DEFAULT_CODEC), help="codec checkpoint folder")
    parser.add_argument("--device", default="auto", help="auto, cpu or cuda")
    parser.add_argument(
        "--vocoder",
        default="hifigan",
        choices=("hifigan", "istft"),
        help="codec decoding: the tuned HiFi-GAN, or the light iSTFT vocoder with its own mel decoder (faster)",
    )
    parser.add_argument(
        "--dtype", default="auto", help="auto (bf16 on a GPU or a bf16 CPU, else float32), int8 (CPU), bf16, fp32"
    )
    parser.add_argument(
        "--max-prompt-tokens", type=int, default=None, help="refuse longer prompts (default: the LLM's context)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    tokens = commands.add_parser("tokens", help="print a clip's codec tokens per level")
    tokens.add_argument("file", type=Path)
    tokens.set_defaults(run=cmd_tokens)
    classify = commands.add_parser("classify", help="label a query clip from labelled demonstrations")
    classify.add_argument("query", type=Path)
    classify.add_argument("--demo", action="append", required=True, metavar="PATH=LABEL")
    classify.set_defaults(run=cmd_classify)
    enhance = commands.add_parser("enhance", help="denoise a clip from (noisy, clean) demonstration pairs")
    enhance.add_argument("query", type=Path)
    enhance.add_argument("--pair", action="append", required=True, metavar="NOISY:CLEAN")
    enhance.add_argument("--out", type=Path, default=Path("enhanced.wav"))
    enhance.set_defaults(run=cmd_enhance)
    synthesize = commands.add_parser("synthesize", help="speak a text made of demonstrated words")
    synthesize.add_argument("text")
    synthesize.add_argument("--pair", action="append", required=True, metavar="TEXT=PATH")
    synthesize.add_argument("--out", type=Path, default=Path("synthesized.wav"))
    synthesize.set_defaults(run=cmd_synthesize)
    fewshot = commands.add_parser("fewshot", help="answer fewshot-v1 requests, one JSON per line on stdin")
    fewshot.add_argument("--jsonl", action="store_true", required=True, help="read JSON lines (the only mode)")
    fewshot.add_argument(
        "--recipe",
        choices=["ours", "channel", "paper"],
        default="ours",
        help="ours: calibrated whole-label scoring; channel: the LLM reads the query after each label's "
        "demonstrations (model/channel.py); paper: the original recipe, for comparison",
    )
    fewshot.add_argument("--levels", help="override the recipe's codec levels, e.g. 0 or 0,1")
    fewshot.set_defaults(run=cmd_fewshot)
    ask = commands.add_parser("ask", help="ask the LLM about a spoken clip; the answer streams as it is written")
    ask.add_argument("file", type=Path)
    ask.add_argument("--prompt", default="<speech>", help="the instruction; <speech> marks where the clip goes")
    ask.add_argument("--path", choices=["direct", "cascade"], default="direct", help="adapter, or Whisper's transcript")
    ask.add_argument("--adapter", help="speech adapter folder (default: the committed one for --lm)")
    ask.add_argument(
        "--beam",
        type=int,
        help="direct path: how many of the adapter's likeliest readings the LLM weighs (default: its head's own)",
    )
    ask.add_argument("--max-new-tokens", type=int, default=64)
    ask.add_argument("--json", action="store_true", help="print one JSON object (answer, transcript, seconds)")
    ask.set_defaults(run=cmd_ask)
    info = commands.add_parser("info", help="show installed LLMs, caches and tables")
    info.add_argument("--load", action="store_true", help="also load the LLM and generate a few tokens")
    info.set_defaults(run=cmd_info)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(message)s")
    try:
        return args.run(args)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
