"""A knowledge base folder from MedQuAD's documents: the articles, sources.toml, kb.toml and .medquad.json.

Each selected document becomes ``<id>.md`` (``kbot.medquad.article``) with its
``sources.toml`` entry (the site as publisher, the page's url); ``kb.toml`` gives the knowledge base's title, intro,
starters and MedQuAD's attribution, and ``.medquad.json`` lists the documents converted and their split (a hidden
file, so kbot neither reads it as an article nor warns about it).

Documents carry a split: ``train`` for whatever is trained or tuned on them, ``dev`` for choices and calibration,
``test`` only to report. A knowledge base built for evaluation should hold the split it is evaluated on, and no more.

The folder is written whole or not at all: into a hidden sibling folder first, renamed into place at the end.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kbot.errors import KbotError
from kbot.importing import toml_string
from kbot.medquad.article import article, is_topic, title, withheld
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
from kbot.medquad.layout import answer_words, pieces

MANIFEST = ".medquad.json"
KB_FILE = "kb.toml"
PUBLISHERS = {
    "CancerGov": "National Cancer Institute",
    "GARD": "Genetic and Rare Diseases Information Center (GARD)",
    "GHR": "Genetics Home Reference",
    "MPlusHealthTopics": "MedlinePlus",
    "NIDDK": "National Institute of Diabetes and Digestive and Kidney Diseases",
    "NINDS": "National Institute of Neurological Disorders and Stroke",
    "NIHSeniorHealth": "NIHSeniorHealth",
    "NHLBI": "National Heart, Lung, and Blood Institute",
    "CDC": "Centers for Disease Control and Prevention",
}
CITATION = (
    'Asma Ben Abacha and Dina Demner-Fushman, "A question-entailment approach to question answering", '
    "BMC Bioinformatics 20, 511 (2019)"
)
LICENCE = "https://creativecommons.org/licenses/by/4.0/"
ATTRIBUTION = (
    f"The articles come from MedQuAD ({CITATION}), published under the Creative Commons Attribution 4.0 "
    f"International licence ({LICENCE}). kbot medquad changed only their layout (line breaks, list markers and "
    "headings), never their words; each article names the NIH or CDC page it was taken from."
)
KB_TITLE = "Ask about health topics (NIH)"
KB_INTRO = (
    "Every answer is quoted word for word from consumer-health pages of the U.S. National Institutes of Health and "
    "CDC, as collected in MedQuAD (Ben Abacha and Demner-Fushman, 2019)."
)
# Starter questions, one per kind of section, each from a different article.
STARTER_PROSE_WORDS = 30  # a starter's answer holds at least this many words of paragraphs
STARTERS = {
    "information": "What is {}?",
    "causes": "What causes {}?",
    "symptoms": "What are the symptoms of {}?",
    "treatment": "How is {} treated?",
}


@dataclass(frozen=True)
class Converted:
    """What ``convert`` wrote: the folder, the articles (file stem and document), and the documents skipped."""

    folder: Path
    articles: tuple[Entry, ...]
    skipped: tuple[tuple[str, str], ...]  # (document id, why)

    def report(self) -> str:
        splits = Counter(doc.split for _, doc in self.articles)
        sites = Counter(doc.source for _, doc in self.articles)
        lines = [
            f"Wrote {len(self.articles)} articles to {self.folder} ("
            + ", ".join(f"{split} {n}" for split, n in sorted(splits.items()))
            + "; "
            + ", ".join(f"{site} {n}" for site, n in sorted(sites.items()))
            + f"), with sources.toml, {KB_FILE}, and {MANIFEST} (each document's id and split).",
            *(f"Skipped {doc_id}: {why}." for doc_id, why in self.skipped),
            f"Next: kbot sources --seeds {self.folder}, then kbot ingest --seeds {self.folder} --index FOLDER.",
        ]
        return "\n".join(lines)


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


def catalog_text(entries: Sequence[Entry]) -> str:
    """sources.toml: one entry per article, its site as publisher and its page's url, and what kbot must not quote."""
    lines = [
        "# Written by kbot medquad. Each article is an NIH or CDC page from MedQuAD:",
        f"# {CITATION}, CC BY 4.0 ({LICENCE}).",
    ]
    for stem, doc in entries:
        fields = {"title": title(doc.focus), "publisher": PUBLISHERS[doc.source], "url": doc.url.strip()}
        lines += ["", f"[{toml_string(stem + '.md')}]"]
        lines += [f"{key} = {toml_string(value)}" for key, value in fields.items()]
        lines += ['updated = ""', 'kind = "editorial"']
        if fragments := withheld(doc):
            lines.append(f"do_not_quote = [{', '.join(toml_string(f) for f in fragments)}]  # links to other sites")
    return "\n".join(lines) + "\n"


def kb_text(entries: Sequence[Entry]) -> str:
    """kb.toml: the knowledge base's title, intro, starters (questions its articles answer) and attribution."""
    starters = ", ".join(toml_string(s) for s in starters_for(entries))
    return (
        "# Written by kbot medquad.\n"
        f"title = {toml_string(KB_TITLE)}\n"
        f"intro = {toml_string(KB_INTRO)}\n"
        f"starters = [{starters}]\n"
        f"attribution = {toml_string(ATTRIBUTION)}\n"
    )


def starters_for(entries: Sequence[Entry]) -> list[str]:
    """Four questions the articles answer, each from another article: the shortest topics first (MedlinePlus's "Acne"
    before a syndrome's full name, CDC's "Parasites - Ascariasis" last, no booklet's title), answered in prose (GHR's
    "Treatment" is often a list of links); one of each kind in STARTERS, then any kind, then any answer."""
    topics = (doc for _, doc in entries if is_topic(doc.focus))
    docs = sorted(topics, key=lambda d: (" - " in d.focus, len(d.focus.split()), d.id))
    every = list(STARTERS)
    passes = [([k], STARTER_PROSE_WORDS) for k in every] + [(every, STARTER_PROSE_WORDS), (every, 1)] * len(every)
    picks: dict[str, str] = {}  # document id -> its question
    for kinds, words in passes:
        found = next(((d, k) for d in docs if d.id not in picks for k in kinds if _answers(d, k, words)), None)
        if found and len(picks) < len(STARTERS):
            picks[found[0].id] = STARTERS[found[1]].format(" ".join(found[0].focus.split()))
    return list(picks.values())


def _answers(doc: MedquadDocument, qtype: str, words: int) -> bool:
    """Whether the document answers that kind of question with at least ``words`` words of paragraphs."""
    return any(s.qtype == qtype and _prose_words(s.answer) >= words for s in doc.sections)


def _prose_words(answer: str) -> int:
    return sum(len(p.text.split()) for p in pieces(answer) if not p.item)


def manifest(
    source: Path,
    entries: Sequence[Entry],
    skipped: Sequence[tuple[str, str]],
    splits: Sequence[str],
    sites: Sequence[str],
    limit: int | None,
) -> dict[str, Any]:
    """.medquad.json: what was converted, from where, and how it was chosen."""
    return {
        "dataset": "MedQuAD",
        "citation": CITATION,
        "licence": LICENCE,
        "from": str(source),
        "selection": {"splits": list(splits), "sources": list(sites), "limit": limit},
        "articles": [
            {"file": f"{stem}.md", "id": doc.id, "source": doc.source, "split": doc.split, "url": doc.url}
            for stem, doc in entries
        ],
        "skipped": [{"id": doc_id, "why": why} for doc_id, why in skipped],
    }
