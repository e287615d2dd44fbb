"""Reading articles: exact offsets, block kinds, sections, sentences, on the five seeds and on made-up articles."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import pytest

from kbot.catalog import load_catalog
from kbot.corpus import read_document
from kbot.domain import Block, BlockKind, Document, SourceMeta
from kbot.errors import CatalogError
from kbot.index import read_corpus

SEEDS = Path(__file__).resolve().parents[1] / "seeds"
IDS = [m.id for m in load_catalog(SEEDS)]
K = BlockKind


@cache
def doc(prefix: str) -> Document:
    meta = next(m for m in load_catalog(SEEDS) if m.id.startswith(prefix))
    return read_document(SEEDS, meta)


def block(d: Document, start: str) -> Block:
    found = [b for b in d.blocks if b.text.replace("\u00a0", " ").startswith(start)]  # the seeds hold no-break spaces
    assert found, f"no block starts with {start!r}"
    return found[0]


def kinds(d: Document, kind: BlockKind) -> list[str]:
    return [b.text for b in d.blocks if b.kind is kind]


def check_offsets(d: Document) -> None:
    """The defining property: every block and sentence is exactly the text at its offsets."""
    text = d.text
    previous_end = 0
    for i, b in enumerate(d.blocks):
        assert b.index == i
        assert text[b.start : b.end] == b.text
        assert b.text and b.text == b.text.strip()
        assert b.start >= previous_end  # in order, never overlapping
        previous_end = b.end
    kept = {b.index: b for b in d.blocks if b.kept}
    for i, s in enumerate(d.sentences):
        assert s.index == i
        assert text[s.start : s.end] == s.text
        assert s.text and s.text == s.text.strip()
        owner = kept[s.block]  # sentences only of kept blocks
        assert owner.start <= s.start < s.end <= owner.end


@pytest.mark.parametrize("source_id", IDS)
def test_offsets_are_exact_on_every_seed(source_id: str) -> None:
    check_offsets(doc(source_id[:3]))


@pytest.mark.parametrize("source_id", IDS)
def test_every_nonblank_line_is_in_a_block(source_id: str) -> None:
    d = doc(source_id[:3])
    spans = [(b.start, b.end) for b in d.blocks]
    for m in re.finditer(r"[^\n]*\S[^\n]*", d.text):
        assert any(a < m.end() and m.start() < z for a, z in spans), f"line not covered: {m.group()!r}"


@pytest.mark.parametrize("source_id", IDS)
def test_kept_text_is_split_into_sentences(source_id: str) -> None:
    """Every non-space character of a kept block lies in one of its sentences: pysbd loses nothing."""
    d = doc(source_id[:3])
    for b in d.kept_blocks:
        own = [s for s in d.sentences if s.block == b.index]
        assert own, f"kept block without sentences: {b.text!r}"
        covered = "".join(s.text for s in own)
        assert re.sub(r"\s", "", covered) == re.sub(r"\s", "", b.text)


def test_read_corpus_reads_every_source_in_order() -> None:
    assert [d.meta.id for d in read_corpus(SEEDS)] == IDS


def test_000_title_faq_and_bullets() -> None:
    d = doc("000")
    assert kinds(d, K.TITLE) == [d.meta.title]
    assert block(d, "various bottles").kind is K.PARAGRAPH  # alt text before the title is not the title
    assert kinds(d, K.FAQ_QUESTION) == [
        "Is ketamine an opioid?",  # "Q1: " is a label, not part of the question
        "Interested in life sciences?",  # the newsletter form's lure sits among the questions (and is dropped)
        "Why does naltrexone affect ketamine’s antidepressant effects?",
        "Is ketamine safe for depression?",
        "Will calling ketamine an opioid affect patients?",
    ]
    q1 = next(b for b in d.blocks if b.kind is K.FAQ_QUESTION)
    assert d.text[q1.start - 4 : q1.start] == "Q1: "
    answer = d.blocks[q1.index + 1]
    assert answer.kind is K.FAQ_ANSWER and answer.section == q1.text and answer.text.startswith("No, ketamine")
    q4 = block(d, "Will calling ketamine")
    assert d.blocks[q4.index + 1].kind is K.FAQ_ANSWER
    bullet = block(d, "When glutamate activates NMDA receptors")
    assert bullet.kind is K.LIST_ITEM and d.text[bullet.start - 4 : bullet.start] == "  • "
    assert "The NMDA Receptor and mTOR Activation" in kinds(d, K.HEADING)
    assert block(d, "Conclusion").kind is K.HEADING


def test_001_question_headings_and_faq_without_blank_lines() -> None:
    d = doc("001")
    assert kinds(d, K.TITLE) == []  # the page lost its title line; line 9's question heads its own section
    headings = kinds(d, K.HEADING)
    assert headings[:3] == ["Key takeaways", "Is ketamine an opioid?", "How does ketamine work in the brain?"]
    assert "Frequently asked questions" in headings
    questions = kinds(d, K.FAQ_QUESTION)
    assert len(questions) == 5 and questions[-1] == "Can ketamine be used for pain without being an opioid?"
    for q in (b for b in d.blocks if b.kind is K.FAQ_QUESTION):
        answer = d.blocks[q.index + 1]
        assert answer.kind is K.FAQ_ANSWER and answer.section == q.text
    items = kinds(d, K.LIST_ITEM)
    assert len(items) == 9 and items[0].startswith("Ketamine is not an opioid.")  # "- " stripped
    assert block(d, "Ketamine is not an opioid. It is a dissociative").kind is K.PARAGRAPH


def test_002_to_004_headings_and_bullets() -> None:
    d2, d3, d4 = doc("002"), doc("003"), doc("004")
    assert kinds(d2, K.TITLE) == [d2.meta.title]
    assert block(d2, "New Study: Does Ketamine Work").kind is K.HEADING
    assert kinds(d3, K.TITLE) == [d3.meta.title]
    assert block(d3, "Dispelling Myths: Ketamine vs. Opioids").kind is K.HEADING  # "vs." is no sentence end
    assert block(d3, "Ketamine can cause adverse drug effects such as:").kind is K.PARAGRAPH
    assert [b.text for b in d3.blocks if b.kind is K.LIST_ITEM][10:14] == [
        "Dissociation",
        "Nausea",
        "Loss of coordination",
        "Emergence delirium",
    ]
    assert kinds(d4, K.TITLE) == [d4.meta.title]
    assert block(d4, "With the dangers of ketamine").kind is K.PARAGRAPH  # a question followed by a heading
    assert block(d4, "Is Ketamine Addictive?").kind is K.HEADING


def test_sections_skip_dropped_headings() -> None:
    d = doc("000")
    # the course ad's heading "Lab Management Certificate" is dropped, so the prose after it stays in its section
    assert block(d, "Labeling ketamine as an opioid").section == "Why This Distinction Matters"
    assert block(d, "Stigma: In the midst").section == "Why This Distinction Matters"
    assert block(d, "Despite growing clinical use").section == "Is Ketamine an Opioid?"
    assert block(d, "Ketamine is not an opioid. Misconceptions").section == "Conclusion"
    assert block(doc("003"), "Ketamine was initially developed").section.startswith("Understanding Ketamine: Uses")


@pytest.mark.parametrize(
    ("prefix", "sentence"),
    [
        (
            "000",
            "This viewpoint is strongly advocated by Dr. Adam Kaplin, a contributor to Psychology Today and a previous",
        ),
        ("000", "However, Dr. Adam Kaplin says this interpretation oversimplifies the biology."),
        ("004", "Dr. Schatzberg suspected ketamine’s effects could be opioid related after Dr. Rodriguez published"),
        ("004", "Dr. Rodriguez, who has pioneered the use of ketamine as a treatment for OCD, says the study"),
    ],
)
def test_pysbd_keeps_doctors_titles_inside_sentences(prefix: str, sentence: str) -> None:
    texts = [s.text for s in doc(prefix).sentences]
    assert any(t.startswith(sentence) for t in texts), sentence
    assert "Dr." not in texts


def test_pysbd_splits_after_degrees() -> None:
    texts = [s.text for s in doc("004").sentences]
    assert (
        "Allan Schatzberg, MD, shares senior authorship of the published paper with Carolyn Rodriguez, MD, PhD."
        in texts
    )


MARKDOWN = """\
# Ketamine at a glance

Ketamine is a dissociative anesthetic. Doctors use it in many settings, e.g. in
emergency rooms, and Dr. Lee says it is
not an opioid.

## What it treats

* Treatment-resistant depression
* Some kinds of chronic pain that
  other drugs did not help
1. First numbered point.

## FAQ

### Is ketamine an opioid?

No. It works on NMDA receptors.

**A bold heading**

Closing thoughts without a heading line.
"""


def write_article(tmp_path: Path, name: str, text: str, title: str, newline: str = "\n") -> tuple[Path, SourceMeta]:
    seeds = tmp_path / "seeds"
    seeds.mkdir(exist_ok=True)
    (seeds / name).write_bytes(text.replace("\n", newline).encode("utf-8"))
    (seeds / "sources.toml").write_text(f'["{name}"]\ntitle = "{title}"\npublisher = "P"\n', encoding="utf-8")
    return seeds, load_catalog(seeds)[0]


def test_a_markdown_article(tmp_path: Path) -> None:
    seeds, meta = write_article(tmp_path, "glance.md", MARKDOWN, "Ketamine at a Glance")
    d = read_document(seeds, meta)
    check_offsets(d)
    shape = [(b.kind, b.text.split("\n")[0]) for b in d.blocks]
    assert shape == [
        (K.TITLE, "Ketamine at a glance"),
        (K.PARAGRAPH, "Ketamine is a dissociative anesthetic. Doctors use it in many settings, e.g. in"),
        (K.HEADING, "What it treats"),
        (K.LIST_ITEM, "Treatment-resistant depression"),
        (K.LIST_ITEM, "Some kinds of chronic pain that"),
        (K.LIST_ITEM, "First numbered point."),
        (K.HEADING, "FAQ"),
        (K.FAQ_QUESTION, "Is ketamine an opioid?"),
        (K.FAQ_ANSWER, "No. It works on NMDA receptors."),
        (K.HEADING, "A bold heading"),
        (K.PARAGRAPH, "Closing thoughts without a heading line."),
    ]
    wrapped = d.blocks[1]
    assert wrapped.text.endswith("not an opioid.")  # soft line breaks join a paragraph
    sentences = [s.text for s in d.sentences if s.block == wrapped.index]
    assert sentences == [
        "Ketamine is a dissociative anesthetic.",
        "Doctors use it in many settings, e.g. in\nemergency rooms, and Dr. Lee says it is\nnot an opioid.",
    ]
    assert d.blocks[4].text.endswith("other drugs did not help")  # an indented continuation of a list item
    assert d.blocks[8].section == "Is ketamine an opioid?"


@pytest.mark.parametrize("newline", ["\r\n", "\r"])
def test_other_line_endings_keep_offsets_exact(tmp_path: Path, newline: str) -> None:
    original = doc("000")
    lf = original.text
    seeds, meta = write_article(tmp_path, "crlf.txt", lf, original.meta.title, newline=newline)
    d = read_document(seeds, meta)
    assert "\r" in d.text  # read without newline translation
    check_offsets(d)
    assert [(b.kind, b.text, b.dropped) for b in d.blocks] == [(b.kind, b.text, b.dropped) for b in original.blocks]
    assert [s.text for s in d.sentences] == [s.text for s in original.sentences]
    if newline == "\r\n":
        last = d.blocks[-1]
        assert last.start == original.blocks[-1].start + lf.count("\n", 0, original.blocks[-1].start)


def test_a_byte_order_mark_is_not_part_of_the_title(tmp_path: Path) -> None:
    seeds, meta = write_article(tmp_path, "bom.txt", "\ufeffMy Title\n\nSome prose here.\n", "My Title")
    d = read_document(seeds, meta)
    assert d.blocks[0].kind is K.TITLE and d.blocks[0].text == "My Title" and d.blocks[0].start == 1


def test_a_file_that_is_not_utf8_is_a_catalog_error(tmp_path: Path) -> None:
    seeds, meta = write_article(tmp_path, "latin.txt", "Title\n", "Title")
    (seeds / "latin.txt").write_bytes("Caf\xe9 prose.\n".encode("latin-1"))
    with pytest.raises(CatalogError, match="not UTF-8"):
        read_document(seeds, meta)
