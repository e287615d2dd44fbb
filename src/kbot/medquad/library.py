"""A small library from MedQuAD for tests and quick measures: some documents of the evaluated splits, spread evenly by
id, with documents of ``train`` among them as distractors (articles a question is not about, as in the full library).

Written like ``convert``'s folders (whole or not at all, with its ``.medquad.json``), so ``kbot medquad --force`` may
replace it and ``kbot eval`` skips the gold questions whose article it does not hold.
"""

from __future__ import annotations

from pathlib import Path

from kbot.errors import KbotError
from kbot.medquad.converter import Converted, unusable, write_kb
from kbot.medquad.documents import Entry, named, read_documents, select, spread
from kbot.medquad.kb_files import manifest

EVALUATED = ("dev", "test")


def train_library(source: Path, out: Path, articles: int) -> list[Entry]:
    """``articles`` usable ``train`` documents, spread evenly by id, written as a knowledge base folder to ``out``: what
    the reader and the word pieces' basis are fitted on."""
    chosen = spread([e for e in select(named(read_documents(source)), ("train",), ()) if not unusable(e[1])], articles)
    chosen.sort(key=lambda e: e[0])
    write_kb(out, chosen, manifest(source, chosen, [], ["train"], [], articles), force=True)
    return chosen


def small_library(source: Path, out: Path, limit: int, distractors: int, force: bool = False) -> Converted:
    """Write ``limit`` documents of dev and test and ``distractors`` of train, each spread evenly by id, to ``out``."""
    entries = named(read_documents(source))
    usable = [e for e in entries if not unusable(e[1])]
    chosen: list[Entry] = spread(select(usable, EVALUATED, ()), limit)
    if distractors:
        chosen += spread(select(usable, ("train",), ()), distractors)
    chosen.sort(key=lambda e: e[0])
    if not chosen:
        raise KbotError("No document of MedQuAD matches that selection.", "give --limit a number of documents")
    listing = manifest(source, chosen, [], [*EVALUATED, "train"], [], limit + distractors)
    listing["selection"]["distractors"] = distractors
    write_kb(out, chosen, listing, force)
    return Converted(out, tuple(chosen), ())
