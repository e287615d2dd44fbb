"""The text of a MedQuAD knowledge base's own files: sources.toml, kb.toml and .medquad.json.

``sources.toml`` names each page's site as its publisher, with the page's url, and withholds GHR's lists of links;
``kb.toml`` gives the title, intro, starters and MedQuAD's attribution; ``.medquad.json`` lists the documents converted
and their split (a hidden file, so kbot neither reads it as an article nor warns about it).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from kbot.importing import toml_string
from kbot.medquad.article import is_topic, title, withheld
from kbot.medquad.documents import Entry, MedquadDocument
from kbot.medquad.layout import pieces

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
