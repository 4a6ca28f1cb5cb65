"""Command line: ``python -m model COMMAND``. Run with ``--help`` for the commands."""

from __future__ import annotations

import argparse
import logging
import sys
import time


def cmd_info(args: argparse.Namespace) -> int:
    """Which bundled LLMs are installed and converted, the vocabulary tables, and (with --load) a load test."""
    from model import lm_store
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
    from model.lm import FrozenLM
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
    parser = argparse.ArgumentParser(prog="python -m model", description="UniAudio 1.5 library command line.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress")
    commands = parser.add_subparsers(dest="command", required=True)
    info = commands.add_parser("info", help="show installed LLMs, caches and tables")
    info.add_argument("--load", action="store_true", help="also load the LLM and generate a few tokens")
    info.add_argument("--lm", default="default", help="LLM name, alias (default, large, tiny), folder or hub id")
    info.add_argument("--device", default="auto", help="auto, cpu or cuda")
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
