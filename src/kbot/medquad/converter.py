"""A knowledge base folder from MedQuAD's documents: the articles, sources.toml, kb.toml and .medquad.json.

Each selected document becomes ``<id>.md`` (``kbot.medquad.article``), with its ``sources.toml`` entry; ``kb.toml``
and ``.medquad.json`` complete the folder (``kbot.medquad.kb_files``).

Documents carry a split: ``train`` for whatever is trained or tuned on them, ``dev`` for choices and calibration,
``test`` only to report. A knowledge base built for evaluation should hold the split it is evaluated on, and no more.

The folder is written whole or not at all: into a hidden sibling folder first, renamed into place at the end.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kbot.errors import KbotError
from kbot.medquad.article import article
from kbot.medquad.documents import (
    SPLITS,
    Entry,
    MedquadDocument,
    choose,
    named,
    read_documents,
    select,
    spread,
)
from kbot.medquad.kb_files import KB_FILE, MANIFEST, PUBLISHERS, catalog_text, kb_text, manifest
from kbot.medquad.layout import answer_words

_KB_NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,39}")  # a name KBOT_KNOWLEDGE_BASES accepts


@dataclass(frozen=True)
class Converted:
    """What ``convert`` wrote: the folder, the articles (file stem and document), and the documents skipped."""

    folder: Path
    articles: tuple[Entry, ...]
    skipped: tuple[tuple[str, str], ...]  # (document id, why)

    def report(self) -> str:
        """What was written, by split and site, what was skipped, and how to serve it."""
        splits = Counter(doc.split for _, doc in self.articles)
        sites = Counter(doc.source for _, doc in self.articles)
        count = f"{len(self.articles)} article" + ("s" if len(self.articles) != 1 else "")
        name = self.folder.name.lower() if _KB_NAME.fullmatch(self.folder.name.lower()) else "nih"
        kbs = shlex.quote(json.dumps({name: str(self.folder)}))
        return "\n".join(
            [
                f"Wrote {count} to {self.folder} ("
                + ", ".join(f"{split} {n}" for split, n in sorted(splits.items()))
                + "; "
                + ", ".join(f"{site} {n}" for site, n in sorted(sites.items()))
                + f"), with sources.toml, {KB_FILE}, and {MANIFEST} (each document's id and split).",
                *(f"Skipped {doc_id}: {why}." for doc_id, why in self.skipped),
                f"Next: export KBOT_KNOWLEDGE_BASES={kbs}, then kbot sources --kb {name} and kbot ingest --kb {name}.",
            ]
        )


def convert(
    source: Path,
    out: Path,
    splits: Sequence[str] = (),
    sites: Sequence[str] = (),
    limit: int | None = None,
    force: bool = False,
) -> Converted:
    """Write the selected documents of MedQuAD (its folder, or its documents.jsonl.gz) as a knowledge base in ``out``.
    Raises KbotError, having written nothing, when the input or the selection cannot be used or ``out`` is taken."""
    _check_out(out, force)
    splits, sites = choose(splits, SPLITS, "split"), choose(sites, tuple(PUBLISHERS), "source")
    chosen: list[Entry] = []
    skipped: list[tuple[str, str]] = []
    for stem, doc in select(named(read_documents(source)), splits, sites):
        why = unusable(doc)
        if why:
            skipped.append((doc.id, why))
        else:
            chosen.append((stem, doc))
    if limit is not None:
        chosen = spread(chosen, limit)
    if not chosen:
        raise KbotError("No document of MedQuAD matches that selection.", "choose other --split or --source values")
    write_kb(out, chosen, manifest(source, chosen, skipped, splits, sites, limit), force)
    return Converted(out, tuple(chosen), tuple(skipped))


def unusable(doc: MedquadDocument) -> str:
    """Why a document cannot make an article ("" when it can)."""
    if not doc.focus.strip():
        return "it has no focus to title its article with"
    if not any(answer_words(s.answer) for s in doc.sections):
        return "none of its sections has an answer"
    if doc.source not in PUBLISHERS:
        return f"its source {doc.source!r} is none of the sites kbot medquad knows ({', '.join(PUBLISHERS)})"
    return ""


# ------------------------------------------------------------------------------------------------------------ writing


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise KbotError(f"{out} is a file, not a folder.", "give --out a new or empty folder")
    if not out.is_dir() or not any(out.iterdir()):
        return
    if not force:
        raise KbotError(
            f"{out} is not empty, and kbot medquad never overwrites a folder unless told to.",
            "give --out a new or empty folder, or add --force to replace a knowledge base kbot medquad wrote there",
        )
    if not (out / MANIFEST).is_file():
        raise KbotError(
            f"{out} is not a knowledge base kbot medquad wrote (it has no {MANIFEST}), so --force will not replace it.",
            "give --out a new or empty folder, or move that folder away yourself",
        )


def write_kb(out: Path, entries: Sequence[Entry], listing: dict[str, Any], force: bool) -> None:
    """Write the knowledge base into a hidden sibling folder, then swap it in for ``out``."""
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".partial", dir=out.parent))
    except OSError as exc:
        raise KbotError(f"{out} cannot be written ({exc.strerror}).", "give --out a folder you can write to") from exc
    try:
        for stem, doc in entries:
            _write(work / f"{stem}.md", article(doc))
        _write(work / "sources.toml", catalog_text(entries))
        _write(work / KB_FILE, kb_text(entries))
        _write(work / MANIFEST, json.dumps(listing, ensure_ascii=False, indent=1) + "\n")
        work.chmod(0o755)
        _swap(work, out, force)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8", newline="")
    except OSError as exc:
        raise KbotError(
            f"{path} cannot be written ({exc.strerror}).", "free some space, or choose another --out"
        ) from exc


def _swap(work: Path, out: Path, force: bool) -> None:
    """``work`` becomes ``out``; an old ``out`` (empty, or replaced under --force) is removed once it has."""
    _check_out(out, force)  # again: another process may have written there since
    old = out.with_name(f".{out.name}.replaced") if out.is_dir() else None
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
        out.rename(old)
    work.rename(out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
