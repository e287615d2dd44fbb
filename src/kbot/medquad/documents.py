"""MedQuAD's documents: reading ``documents.jsonl.gz`` (one JSON object a line), and choosing which to convert.

Each line is a document: ``id``, ``source`` (the site), ``url``, ``focus`` (its topic), ``split`` (train, dev or test)
and ``sections``, each with ``qid``, ``qtype``, ``question`` and ``answer``. A line that is not such an object is an
error that names the line, never a traceback.
"""

from __future__ import annotations

import gzip
import json
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kbot.errors import KbotError

DATA_FILE = "documents.jsonl.gz"
SPLITS = ("train", "dev", "test")
DOCUMENT_FIELDS = ("id", "source", "url", "focus", "split")
SECTION_FIELDS = ("qid", "qtype", "question", "answer")
SHAPE = (
    'each line must be one JSON object: {"id", "source", "url", "focus", "split", "sections": '
    '[{"qid", "qtype", "question", "answer"}, ...]}'
)


@dataclass(frozen=True)
class Section:
    qid: str
    qtype: str
    question: str
    answer: str


@dataclass(frozen=True)
class MedquadDocument:
    id: str
    source: str
    url: str
    focus: str
    split: str
    sections: tuple[Section, ...]


Entry = tuple[str, MedquadDocument]  # the article's file stem, and its document


def data_file(source: Path) -> Path:
    """MedQuAD's documents file: ``source`` itself, or ``documents.jsonl.gz`` in it."""
    path = source / DATA_FILE if source.is_dir() else source
    if not path.is_file():
        raise KbotError(
            f"{path} does not exist.", f"give kbot medquad MedQuAD's folder or its {DATA_FILE} (e.g. ../shared/medquad)"
        )
    return path


def read_documents(source: Path) -> list[MedquadDocument]:
    """Every document of the file, in its order. The file may be gzipped JSON lines or plain JSON lines."""
    path = data_file(source)
    try:
        with path.open("rb") as raw:
            gzipped = raw.read(2) == b"\x1f\x8b"
        with gzip.open(path, "rb") if gzipped else path.open("rb") as f:
            return [_document(path, n, line) for n, line in enumerate(f, 1) if line.strip()]
    except (OSError, EOFError, zlib.error) as exc:  # unreadable, or a damaged or truncated gzip stream
        raise KbotError(f"{path} cannot be read: {exc}.", f"give a complete copy of MedQuAD's {DATA_FILE}") from exc


def _document(path: Path, n: int, line: bytes) -> MedquadDocument:
    where = f"{path}, line {n}"
    try:
        value = json.loads(line.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise KbotError(f"{where} is not UTF-8 text ({exc.reason}).", "save the file as UTF-8") from exc
    except json.JSONDecodeError as exc:
        raise KbotError(f"{where} is not valid JSON ({exc.msg}, column {exc.colno}).", SHAPE) from exc
    if not isinstance(value, dict):
        raise KbotError(f"{where} is JSON but not an object.", SHAPE)
    fields = {key: _text(value, key, where) for key in DOCUMENT_FIELDS}
    if fields["split"] not in SPLITS:
        raise KbotError(f"{where} has split {fields['split']!r}.", f"give each document a split: {', '.join(SPLITS)}")
    sections = value.get("sections")
    if not isinstance(sections, list):
        raise KbotError(f"{where} has no list of sections.", SHAPE)
    parts = tuple(_section(s, f"{where}, section {i}") for i, s in enumerate(sections, 1))
    return MedquadDocument(**fields, sections=parts)


def _section(value: Any, where: str) -> Section:
    if not isinstance(value, dict):
        raise KbotError(f"{where} is not an object.", SHAPE)
    return Section(**{key: _text(value, key, where) for key in SECTION_FIELDS})


def _text(value: dict[str, Any], key: str, where: str) -> str:
    text = value.get(key)
    if not isinstance(text, str):
        problem = "has no" if key not in value else "has a non-text"
        raise KbotError(f"{where} {problem} {key!r}.", SHAPE)
    return text


# ------------------------------------------------------------------------------------------------------------ choosing


def named(docs: Sequence[MedquadDocument]) -> list[Entry]:
    """Each document with its file stem: its id in letters, digits, "_" and "-" only, and "-2", "-3"... on the
    documents that repeat an id (MedQuAD gives several CancerGov topics of one page the same id). Stems are given over
    the whole file, so a document keeps its name whatever else is selected."""
    seen: Counter[str] = Counter()
    entries: list[Entry] = []
    for doc in docs:
        stem = "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "_" for c in doc.id) or "document"
        seen[stem] += 1
        entries.append((stem if seen[stem] == 1 else f"{stem}-{seen[stem]}", doc))
    return entries


def select(entries: Sequence[Entry], splits: Sequence[str], sites: Sequence[str]) -> list[Entry]:
    """The documents of these splits and sites (all, when none is given), sorted by file name."""
    return sorted(
        (e for e in entries if (not splits or e[1].split in splits) and (not sites or e[1].source in sites)),
        key=lambda e: e[0],
    )


def spread(entries: Sequence[Entry], limit: int) -> list[Entry]:
    """``limit`` documents spread evenly through the list: every (n / limit)-th one, so, sorted by id, the sites are
    sampled in proportion and each across its whole range."""
    if limit < 1:
        raise KbotError(f"--limit {limit} would convert nothing.", "give --limit a number of documents, 1 or more")
    if limit >= len(entries):
        return list(entries)
    return [entries[i * len(entries) // limit] for i in range(limit)]


def choose(values: Sequence[str], known: Sequence[str], option: str) -> list[str]:
    """The values of a repeatable option, spelled as ``known`` spells them (any case accepted)."""
    by_fold = {k.casefold(): k for k in known}
    unknown = [v for v in values if v.casefold() not in by_fold]
    if unknown:
        raise KbotError(f"MedQuAD has no {option} {unknown[0]!r}.", f"use --{option} with one of: {', '.join(known)}")
    return [by_fold[v.casefold()] for v in values]
