"""Sentence rows and passages: what is quotable, and passages that cover every quotable sentence within one section."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

import pytest

from kbot.chunking import SentenceRow, make_passages, sentence_rows, situated
from kbot.domain import BlockKind, Document, Passage
from kbot.index import read_corpus

SIZES = (1, 2, 3, 4, 5)


@pytest.fixture(scope="module")
def documents(seeds_dir: Path) -> list[Document]:
    return read_corpus(seeds_dir)


@pytest.fixture(scope="module")
def rows(documents: list[Document]) -> list[SentenceRow]:
    return sentence_rows(documents)


def _row(
    id: int, section: str = "S", source: str = "a", kind: BlockKind = BlockKind.PARAGRAPH, text: str = ""
) -> SentenceRow:
    text = text or f"Sentence number {id}."
    return SentenceRow(id, source, id, kind, section, id * 100, id * 100 + len(text), text)


def _covered(passages: Sequence[Passage]) -> set[int]:
    return {sid for p in passages for sid in p.sentence_ids}


def _share_a_passage(a: int, b: int, passages: Sequence[Passage]) -> bool:
    return any(a in p.sentence_ids and b in p.sentence_ids for p in passages)


# ------------------------------------------------------------------------------------------- rows of the real corpus


def test_rows_are_numbered_and_point_into_their_source(rows: list[SentenceRow], documents: list[Document]) -> None:
    texts = {d.meta.id: d.text for d in documents}
    assert [r.id for r in rows] == list(range(len(rows)))
    assert {r.source_id for r in rows} == set(texts)
    for r in rows:
        assert texts[r.source_id][r.start : r.end] == r.text


def test_headings_titles_and_questions_are_not_quotable(rows: list[SentenceRow]) -> None:
    heads = [r for r in rows if r.kind in (BlockKind.HEADING, BlockKind.TITLE, BlockKind.FAQ_QUESTION)]
    assert heads, "the corpus has headings, so this test must see some"
    assert not any(r.quotable for r in heads)
    questions = [r for r in rows if r.text.rstrip().endswith("?")]
    assert questions and not any(r.quotable for r in questions)
    # 001 asks "Is ketamine an opioid?" as a heading: a suggestion, never a quote.
    asked = [r for r in rows if r.text == "Is ketamine an opioid?"]
    assert asked and all(r.is_question and not r.quotable for r in asked)


def test_most_prose_is_quotable(rows: list[SentenceRow]) -> None:
    prose = [r for r in rows if r.kind in (BlockKind.PARAGRAPH, BlockKind.LIST_ITEM, BlockKind.FAQ_ANSWER)]
    assert sum(r.quotable for r in prose) / len(prose) > 0.95


@pytest.mark.parametrize(
    ("kind", "text", "quotable", "is_question"),
    [
        (BlockKind.PARAGRAPH, "Ketamine is not an opioid.", True, False),
        (BlockKind.LIST_ITEM, "Ketamine is a dissociative anesthetic.", True, False),
        (BlockKind.FAQ_ANSWER, "No, ketamine is not an opioid.", True, False),
        (BlockKind.PARAGRAPH, "You may have wondered: is ketamine an opioid?", False, False),
        (BlockKind.FAQ_ANSWER, "Why does this matter? ", False, False),
        (BlockKind.HEADING, "How is ketamine different from opioids?", False, True),
        (BlockKind.FAQ_QUESTION, "Is Ketamine Addictive?", False, True),
        (BlockKind.TITLE, "Is Ketamine an Opiate?", False, True),
        (BlockKind.HEADING, "Key takeaways", False, False),
        (BlockKind.TITLE, "Understanding Ketamine", False, False),
    ],
)
def test_what_is_quotable(kind: BlockKind, text: str, quotable: bool, is_question: bool) -> None:
    row = SentenceRow(0, "a", 0, kind, "", 0, len(text), text)
    assert (row.quotable, row.is_question) == (quotable, is_question)


# ------------------------------------------------------------------------------------------- withheld sentences

NEURO = "004_5aeca17a0480db8f"  # "Is Ketamine an Opiate?": its addiction paragraph compares ketamine to "other opioids"
STANFORD = "as is the case with other opioids"


def _withholding(doc: Document, *fragments: str) -> Document:
    return dataclasses.replace(doc, meta=dataclasses.replace(doc.meta, do_not_quote=fragments))


def _containing(doc: Document, words: str) -> list[str]:
    return [s.text for s in doc.sentences if words in s.text]


@pytest.fixture(scope="module")
def neuro(documents: list[Document]) -> Document:
    return next(d for d in documents if d.meta.id == NEURO)


def test_a_sentence_holding_a_fragment_is_withheld_and_only_it(neuro: Document) -> None:
    (target,) = _containing(neuro, STANFORD)
    rows = sentence_rows([_withholding(neuro, STANFORD)])
    assert [r.text for r in rows if r.withheld] == [target]
    (row,) = [r for r in rows if r.withheld]
    assert row.kind is BlockKind.PARAGRAPH and not row.quotable and not row.is_question
    assert [r.id for r in rows if r.quotable] == [r.id for r in sentence_rows([neuro]) if r.quotable and r.id != row.id]
    covered = _covered(make_passages(rows, 3))
    assert row.id not in covered  # never retrieved through a passage either
    assert covered == {r.id for r in rows if r.quotable}


def test_a_fragment_across_a_sentence_boundary_withholds_both_sentences(neuro: Document) -> None:
    first = next(s for s in neuro.sentences if STANFORD in s.text)
    second = neuro.sentences[first.index + 1]
    fragment = neuro.text[first.end - len("opioids.") : second.start + len("While")]  # "opioids.  While"
    rows = sentence_rows([_withholding(neuro, fragment)])
    assert [r.text for r in rows if r.withheld] == [first.text, second.text]


def test_every_occurrence_of_a_fragment_is_withheld(neuro: Document) -> None:
    expected = _containing(neuro, "Dr. Rodriguez")
    assert len(expected) >= 2, "the article names Dr. Rodriguez in several sentences"
    rows = sentence_rows([_withholding(neuro, "Dr. Rodriguez")])
    assert [r.text for r in rows if r.withheld] == expected


def test_a_withheld_question_is_no_longer_a_suggestion(neuro: Document) -> None:
    (heading,) = [r for r in sentence_rows([neuro]) if r.text == "Is Ketamine Addictive?"]
    assert heading.is_question
    rows = sentence_rows([_withholding(neuro, "Ketamine Addictive")])
    assert [(r.id, r.is_question) for r in rows if r.withheld] == [(heading.id, False)]


# ------------------------------------------------------------------------------------------- passages of the corpus


@pytest.mark.parametrize("size", SIZES)
def test_passages_never_cross_a_section_or_a_source(rows: list[SentenceRow], size: int) -> None:
    passages = make_passages(rows, size)
    assert [p.id for p in passages] == list(range(len(passages)))
    for p in passages:
        members = [rows[i] for i in p.sentence_ids]
        assert 1 <= len(members) <= size
        assert {(r.source_id, r.section) for r in members} == {(p.source_id, p.section)}
        assert list(p.sentence_ids) == sorted(set(p.sentence_ids))
        assert all(r.quotable for r in members)
        assert (p.start, p.end) == (members[0].start, members[-1].end)
        assert p.text == " ".join(r.text for r in members)


@pytest.mark.parametrize("size", SIZES)
def test_every_quotable_sentence_is_in_a_passage(rows: list[SentenceRow], size: int) -> None:
    covered = _covered(make_passages(rows, size))
    missing = [r.text for r in rows if r.quotable and r.id not in covered]
    assert missing == [], f"passage_sentences={size} leaves {len(missing)} quotable sentences unretrievable"


@pytest.mark.parametrize("size", [s for s in SIZES if s > 1])
def test_adjacent_quotable_sentences_of_a_section_share_a_passage(rows: list[SentenceRow], size: int) -> None:
    passages = make_passages(rows, size)
    quotable = [r for r in rows if r.quotable]
    pairs = [(a, b) for a, b in pairwise(quotable) if (a.source_id, a.section) == (b.source_id, b.section)]
    assert len(pairs) > 100
    apart = [(a.text, b.text) for a, b in pairs if not _share_a_passage(a.id, b.id, passages)]
    assert apart == []


def test_long_sections_are_split_into_several_passages(rows: list[SentenceRow]) -> None:
    passages = make_passages(rows, 3)
    per_section: dict[tuple[str, str], int] = {}
    for p in passages:
        per_section[(p.source_id, p.section)] = per_section.get((p.source_id, p.section), 0) + 1
    assert max(per_section.values()) > 1
    assert len(passages) < sum(r.quotable for r in rows)  # passages hold several sentences, not one each


# ------------------------------------------------------------------------------------------- windows, by hand


@pytest.mark.parametrize("size", [s for s in SIZES if s > 1])
@pytest.mark.parametrize("count", range(1, 9))
def test_windows_cover_a_section_of_any_length(size: int, count: int) -> None:
    section = [_row(i) for i in range(count)]
    passages = make_passages(section, size)
    assert _covered(passages) == set(range(count))
    assert all(len(p.sentence_ids) <= size for p in passages)
    assert all(_share_a_passage(i, i + 1, passages) for i in range(count - 1))


def test_one_sentence_passages_cover_every_sentence() -> None:
    """passage_sentences=1 (KBOT_PASSAGE_SENTENCES=1) must still make every sentence retrievable."""
    uncovered = {}
    for count in range(1, 9):
        passages = make_passages([_row(i) for i in range(count)], 1)
        assert all(len(p.sentence_ids) == 1 for p in passages)
        if missing := set(range(count)) - _covered(passages):
            uncovered[count] = sorted(missing)
    assert uncovered == {}, f"sentences left out of every passage, by section length: {uncovered}"


def test_sections_and_sources_split_passages_even_when_rows_are_adjacent() -> None:
    section_rows = [
        _row(0, "Intro"),
        _row(1, "Intro"),
        _row(2, "Risks"),
        _row(3, "Risks", source="b"),
        _row(4, "Risks", kind=BlockKind.HEADING, source="b", text="Risks"),
        _row(5, "Risks", source="b"),
    ]
    passages = make_passages(section_rows, 5)
    assert [(p.source_id, p.section, p.sentence_ids) for p in passages] == [
        ("a", "Intro", (0, 1)),
        ("a", "Risks", (2,)),
        ("b", "Risks", (3, 5)),
    ]


# ------------------------------------------------------------------------------------------- what is embedded


def _under(i: int, source: str, section: str) -> SentenceRow:
    return SentenceRow(i, source, 0, BlockKind.PARAGRAPH, section, 0, 1, "x")


def test_a_heading_several_articles_share_is_led_by_its_articles_title() -> None:
    rows = [_under(i, s, h) for i, (s, h) in enumerate(
        [("a", "Symptoms"), ("b", "symptoms"), ("c", "Symptoms"), ("a", "What is A?"), ("b", "Causes"), ("c", "")]
    )]  # fmt: skip
    titles = {"a": "Acromegaly", "b": "Bronchitis", "c": "Croup"}
    assert situated(rows, titles) == [
        "Acromegaly: Symptoms", "Bronchitis: symptoms", "Croup: Symptoms", "What is A?", "Causes", ""
    ]  # fmt: skip
