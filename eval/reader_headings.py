"""What the reader reads, and what it is worth: the sentence under its heading (as kbot reads it), the sentence alone,
the heading alone, and headings first with whole pairs for the best few only. Choice sets only (never gold or test).

    export KBOT_KNOWLEDGE_BASES='{"nih": "tests/kbs/nih-small"}'     # and kbot ingest --kb nih
    .venv/bin/python eval/reader_headings.py eval/nih/dev.jsonl=nih
    .venv/bin/python eval/reader_headings.py eval/calibration.jsonl=default

Each mode reorders the same retrieval candidates and is scored on the set's answerable questions (support@1 / @3,
MRR), with the reader's work per question beside it: the distinct (question, passage) pairs it reads, and their word
pieces, what its time is proportional to. "headings of D, then whole pairs for K" is kbot's own two-stage reading
(reader.json's depth D and whole K, ``Reader.rerank_batch``): the distinct headings of the first D candidates (their
titles and headings, the same for every sentence of a section), ordered by retrieval score plus ``weight`` x
P(heading answers), then whole pairs for the first K of that order only; the others follow them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from kbot.config import Settings
from kbot.evaluation.gold import load_gold
from kbot.evaluation.run import in_library
from kbot.index import heading_of
from kbot.profile import ReaderUse
from kbot.reader import Reader, Reading
from kbot.service import KbotService

sys.path.insert(0, str(Path(__file__).parent))
from tune_reader import figures, memoised_reader
from tune_weights import memoised

HELD_OUT = ("gold.jsonl", "test.jsonl")


class Mode(NamedTuple):
    depth: int
    whole: int = 0  # reader.json's: how many of the first ``depth`` are read whole (0: all)
    passage: str = "heading"  # what a whole pair reads: the sentence under its "heading", the "sentence" alone, or
    # the "heading only"
    skim: str = "heading"  # what stage one reads: the "heading" ("Title: Heading") or its "section" name alone


MODES = {
    "today: the sentence under its heading, depth 10": Mode(10),
    "the sentence alone, depth 10": Mode(10, passage="sentence"),
    "the heading alone, depth 10": Mode(10, passage="heading only"),
    "the heading alone, depth 15": Mode(15, passage="heading only"),
    **{f"headings of {d}, then whole pairs for {k}": Mode(d, k) for d, k in ((10, 4), (15, 3), (15, 4), (15, 5))},
    "section names (no title) of 15, then whole pairs for 4": Mode(15, 4, skim="section"),
}


def section(row: Any) -> str:
    """A sentence's heading without its article's title ("Symptoms"): what stage one reads in ``skim="section"``."""
    return heading_of(row, row.section)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("set", help="labelled file=knowledge base")
    parser.add_argument(
        "--modes",
        nargs="+",
        type=int,
        help=f"which rows, by number: {', '.join(f'{i} {m}' for i, m in enumerate(MODES))}",
    )
    parser.add_argument("--weight", type=float, default=2.0, help="what the reader's probability adds (reader.json's)")
    args = parser.parse_args(argv)
    path, _, kb = args.set.partition("=")
    kb = kb or "default"
    if Path(path).name in HELD_OUT:
        parser.error(f"{path} is held out: measure on eval/calibration.jsonl or eval/nih/dev.jsonl")
    settings = Settings()
    folder = settings.seeds_dir if kb == "default" else settings.knowledge_bases[kb]
    items = [i for i in in_library(load_gold(Path(path)), folder) if i.kind == "answerable"]
    service = KbotService.load(settings, only=[kb])
    memoised(service, [kb])
    base = service.kb(kb)  # the reader on for every mode, whatever the library's kb.toml says
    service = service.with_knowledge_base(
        dataclasses.replace(base, profile=base.profile.model_copy(update={"reader": ReaderUse()}))
    )
    assert service.reader is not None, "KBOT_READER is off"
    # memoised: each distinct pair read once, whichever modes read it
    reader, retriever = memoised_reader(service.reader), service.kb(kb).retriever
    tokenizer = reader._model.tokenizer
    sets = [(path, kb, items)]

    w, settings_of = args.weight, reader.settings
    print(f"{len(items)} answerable questions of {path} on {kb}; weight {w}")
    print("| reader | support@1 | support@3 | MRR | distinct pairs / question | word pieces / question |")
    print("|---|---|---|---|---:|---:|")
    none = figures(dataclasses.replace(service, reader=None), sets)["sets"][path]
    print(f"| none | {none['support_at_1']:.3f} | {none['support_at_3']:.3f} | {none['mrr']:.3f} | 0 | 0 |", flush=True)
    memo, read = reader._logits, list[tuple[str, str]]()  # each model call's pairs (distinct within a call)

    def logits(pairs: Sequence[tuple[str, str]]) -> np.ndarray:
        read.extend(pairs)
        return memo(pairs)

    reader._logits = logits  # type: ignore[method-assign]
    for name, mode in [m for i, m in enumerate(MODES.items()) if args.modes is None or i in args.modes]:
        reader.settings = dataclasses.replace(settings_of, depth=mode.depth, whole=mode.whole, weight=w)
        read.clear()
        passage = {"heading": None, "sentence": lambda row: row.text, "heading only": retriever.heading}[mode.passage]

        def rerank_batch(asked: Sequence[Reading], passage: Any = passage, skim: str = mode.skim) -> list[Any]:
            """kbot's, on another passage or skimming another heading."""
            return Reader.rerank_batch(
                reader,
                [
                    a._replace(passage=passage or a.passage, heading=section if skim == "section" else a.heading)
                    for a in asked
                ],
            )

        reader.rerank_batch = rerank_batch  # type: ignore[method-assign]
        got = figures(dataclasses.replace(service, reader=reader), sets)["sets"][path]
        pieces: int = sum(len(tokenizer(q, p, truncation=True, max_length=96)["input_ids"]) for q, p in read)
        print(
            f"| {name} | {got['support_at_1']:.3f} | {got['support_at_3']:.3f} | {got['mrr']:.3f} "
            f"| {len(read) / len(items):.1f} | {pieces / len(items):.0f} |",
            flush=True,
        )
    print(json.dumps({"set": path, "kb": kb, "weight": w}))


if __name__ == "__main__":
    main()
