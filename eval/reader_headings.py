"""What the reader reads, and what it is worth: the sentence under its heading (as kbot reads it), the sentence alone,
the heading alone, and headings first with whole pairs for the best few only. Choice sets only (never gold or test).

    export KBOT_KNOWLEDGE_BASES='{"nih": "tests/kbs/nih-small"}'     # and kbot ingest --kb nih
    .venv/bin/python eval/reader_headings.py eval/nih/dev.jsonl=nih
    .venv/bin/python eval/reader_headings.py eval/calibration.jsonl=default

Each mode reorders the same retrieval candidates and is scored on the set's answerable questions (support@1 / @3,
MRR), with the reader's work per question beside it: the distinct (question, passage) pairs it reads, and their word
pieces, what its time is proportional to. "headings D then K" reads the distinct headings of the first D candidates
(their titles and headings, the same for every sentence of a section), orders them by retrieval score plus
``weight`` x P(heading answers), and reads whole pairs for the first K of that order only; the others follow them.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kbot.config import Settings
from kbot.evaluation.gold import load_gold
from kbot.evaluation.run import in_library
from kbot.profile import ReaderUse
from kbot.reader import Reader, Reading
from kbot.retrieval import Candidate
from kbot.service import KbotService

sys.path.insert(0, str(Path(__file__).parent))
from tune_reader import figures, memoised_reader
from tune_weights import memoised

HELD_OUT = ("gold.jsonl", "test.jsonl")
Rerank = Callable[[Reader, Reading, Callable[[Any], str]], tuple[list[tuple[str, str]], list[Candidate]]]


def whole(depth: int, weight: float, passage: str) -> Rerank:
    """Today's reading (``passage`` "heading"), or the same with the sentence or the heading alone in its place:
    ``Reader.rerank_batch`` itself, given another passage."""

    def rerank(
        reader: Reader, a: Reading, heading: Callable[[Any], str]
    ) -> tuple[list[tuple[str, str]], list[Candidate]]:
        read = {"heading": a.passage, "sentence": lambda row: row.text, "heading only": heading}[passage]
        pairs = [(a.question, read(c.row)) for c in a.candidates[:depth]]
        [order] = Reader.rerank_batch(reader, [a._replace(passage=read, depth=depth, weight=weight)])
        return pairs, list(order)

    return rerank


def headings_first(depth: int, keep: int, weight: float) -> Rerank:
    def rerank(
        reader: Reader, a: Reading, heading: Callable[[Any], str]
    ) -> tuple[list[tuple[str, str]], list[Candidate]]:
        first = list(a.candidates[:depth])
        heads = [(a.question, heading(c.row)) for c in first]
        order = sorted(
            zip(first, reader._probabilities(heads).tolist(), strict=True),
            key=lambda t: t[0].score + weight * t[1],
            reverse=True,
        )
        top = [c for c, _ in order[:keep]]
        whole_pairs = [(a.question, a.passage(c.row)) for c in top]
        lifted = sorted(
            (
                dataclasses.replace(c, score=c.score + weight * p)
                for c, p in zip(top, reader._probabilities(whole_pairs).tolist(), strict=True)
            ),
            key=lambda c: c.score,
            reverse=True,
        )
        floor = min((c.score for c in lifted), default=0.0)
        rest = [dataclasses.replace(c, score=floor - 1e-3 * (i + 1)) for i, (c, _) in enumerate(order[keep:])]
        return [*heads, *whole_pairs], [*lifted, *rest, *a.candidates[depth:]]

    return rerank


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("set", help="labelled file=knowledge base")
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

    def heading(row: Any) -> str:
        return str(retriever._where[row.id]) if row.section not in ("", row.text) else str(row.text)

    w = args.weight
    modes: dict[str, Rerank] = {
        "today: the sentence under its heading, depth 10": whole(10, w, "heading"),
        "the sentence alone, depth 10": whole(10, w, "sentence"),
        "the heading alone, depth 10": whole(10, w, "heading only"),
        "the heading alone, depth 15": whole(15, w, "heading only"),
        **{
            f"headings of {d}, then whole pairs for {k}": headings_first(d, k, w)
            for d, k in ((10, 4), (15, 3), (15, 4))
        },
    }
    print(f"{len(items)} answerable questions of {path} on {kb}; weight {w}")
    print("| reader | support@1 | support@3 | MRR | distinct pairs / question | word pieces / question |")
    print("|---|---|---|---|---:|---:|")
    none = figures(dataclasses.replace(service, reader=None), sets)["sets"][path]
    print(f"| none | {none['support_at_1']:.3f} | {none['support_at_3']:.3f} | {none['mrr']:.3f} | 0 | 0 |", flush=True)
    for name, rerank in modes.items():
        work: list[tuple[int, int]] = []

        def rerank_batch(asked: Sequence[Reading], rerank: Rerank = rerank, work: list[Any] = work) -> list[Any]:
            out = []
            for a in asked:
                pairs, order = rerank(reader, a, heading)
                distinct = list(dict.fromkeys(pairs))
                pieces = sum(len(tokenizer(q, p, truncation=True, max_length=96)["input_ids"]) for q, p in distinct)
                work.append((len(distinct), pieces))
                out.append(tuple(order))
            return out

        reader.rerank_batch = rerank_batch  # type: ignore[method-assign]
        got = figures(dataclasses.replace(service, reader=reader), sets)["sets"][path]
        pairs, pieces = np.mean(work, axis=0)
        print(
            f"| {name} | {got['support_at_1']:.3f} | {got['support_at_3']:.3f} | {got['mrr']:.3f} "
            f"| {pairs:.1f} | {pieces:.0f} |",
            flush=True,
        )
    print(json.dumps({"set": path, "kb": kb, "weight": w}))


if __name__ == "__main__":
    main()
