"""Composing and rendering the four kinds of reply, and the abstention decision."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest

from kbot import answer as compose
from kbot.answer import Abstention, evidence
from kbot.chunking import SentenceRow
from kbot.domain import Answer, BlockKind, Document, Resource, SourceMeta, Status
from kbot.quotes import Selection
from kbot.retrieval import Candidate, Retrieval

NOTICE = "kbot only quotes published articles. Please consult a clinician."
RESOURCES = (
    Resource("988 Suicide & Crisis Lifeline", "Call or text 988, any time", "988", "988"),
    Resource("Emergency services", "Call 911 for an emergency", "911"),
)
SUGGESTIONS = ("Is Ketamine Addictive?", "How is ketamine different from opioids?")

A_TEXT = "Ketamine is not an opioid. It is a dissociative anesthetic.\n\nIt blocks NMDA receptors."
B_TEXT = "No, ketamine is not an opioid."
DOCUMENTS = {
    "a": Document(SourceMeta("a", "a.txt", "Is Ketamine an Opioid?", "Lab Manager"), A_TEXT, (), ()),
    "b": Document(
        SourceMeta(
            "b",
            "b.txt",
            "Is Ketamine an Opiate?",
            "Neuro Wellness Spa",
            url="https://b.example/k",
            updated="2024-08-22",
        ),
        B_TEXT,
        (),
        (),
    ),
}


def _selection(source: str, start: int, end: int, score: float = 0.8, also_in: tuple[str, ...] = ()) -> Selection:
    text = DOCUMENTS[source].text[start:end]
    row = SentenceRow(start, source, 0, BlockKind.PARAGRAPH, "", start, end, text)
    return Selection((row,), Candidate(row, score, score, score, 0.0, 0.0), also_in)


def _span(source: str, text: str) -> tuple[int, int]:
    start = DOCUMENTS[source].text.index(text)
    return start, start + len(text)


def _retrieval(candidates: int = 1, top_dense: float = 0.5, coverage: float = 0.5) -> Retrieval:
    row = SentenceRow(0, "a", 0, BlockKind.PARAGRAPH, "", 0, 26, A_TEXT[:26])
    cands = tuple(Candidate(row, 0.7, top_dense, 0.6, 1.0, coverage) for _ in range(candidates))
    return Retrieval("q", cands, top_dense, 0.6, coverage)


@pytest.fixture
def answered() -> Answer:
    selections = [
        _selection("a", *_span("a", "Ketamine is not an opioid."), 0.9, also_in=("b",)),
        _selection("b", *_span("b", B_TEXT), 0.85),
        _selection("a", *_span("a", "It blocks NMDA receptors."), 0.8),
    ]
    return compose.answered("Is ketamine an opioid?", selections, DOCUMENTS, NOTICE, {"top_dense": 0.9})


def _all_statuses() -> list[Answer]:
    return [
        compose.answered("q", [_selection("b", 0, len(B_TEXT))], DOCUMENTS, NOTICE),
        compose.no_answer("q", SUGGESTIONS, NOTICE),
        compose.declined("q", SUGGESTIONS, NOTICE, rule="advice.direct: how much"),
        compose.crisis("q", RESOURCES, NOTICE),
    ]


# ------------------------------------------------------------------------------------------- every status


@pytest.mark.parametrize("reply", _all_statuses(), ids=lambda a: a.status.value)
def test_notice_ends_every_reply_once(reply: Answer) -> None:
    assert reply.notice == NOTICE
    assert reply.text.endswith("\n\n" + NOTICE)
    assert reply.text.count(NOTICE) == 1


def test_each_status_is_its_own() -> None:
    assert [a.status for a in _all_statuses()] == [Status.ANSWERED, Status.NO_ANSWER, Status.DECLINED, Status.CRISIS]


# ------------------------------------------------------------------------------------------- answered


def test_answered_quotes_keep_their_offsets_and_number_sources_by_first_use(answered: Answer) -> None:
    assert [(q.source_id, q.citation) for q in answered.quotes] == [("a", 1), ("b", 2), ("a", 1)]
    assert [(s.citation, s.meta.id) for s in answered.sources] == [(1, "a"), (2, "b")]
    for q in answered.quotes:
        assert DOCUMENTS[q.source_id].text[q.start : q.end] == q.text
        assert q.source_file == f"{q.source_id}.txt"
    assert answered.message == "" and answered.suggestions == () and answered.resources == ()
    assert answered.evidence == {"top_dense": 0.9}


def test_answered_text_quotes_with_markers_then_lists_sources(answered: Answer) -> None:
    parts = answered.text.split("\n\n")
    assert parts[0].startswith("“Ketamine is not an opioid.” [1]")
    assert parts[1] == f"“{B_TEXT}” [2]"
    assert parts[2] == "“It blocks NMDA receptors.” [1]"
    assert parts[3].splitlines() == [
        "Sources:",
        "[1] Lab Manager, “Is Ketamine an Opioid?”",
        "[2] Neuro Wellness Spa, “Is Ketamine an Opiate?”, updated 2024-08-22, https://b.example/k",
    ]
    assert parts[4] == NOTICE
    assert re.findall(r"\[(\d+)\]", parts[0] + parts[1] + parts[2]) == ["1", "2", "2", "1"]  # [2] also said it


def test_also_said_by_names_the_other_publishers(answered: Answer) -> None:
    """The first quote is also said by source b: its line must name b's publisher, whatever quotes follow it.

    The third quote comes from the same source as the first (same citation [1]) and has no twin; it must neither
    erase the first quote's "also said by" nor leave an empty "(also said by )"."""
    first_line = answered.text.split("\n\n")[0]
    assert first_line == "“Ketamine is not an opioid.” [1] (also said by Neuro Wellness Spa [2])"
    assert "(also said by )" not in answered.text


def test_also_said_by_with_a_single_quote_lists_that_source_too() -> None:
    """Source b is quoted nowhere, only folded into the first quote: it is still among the Sources, numbered after
    the quoted ones, so every publisher the answer names is cited (and the chat page can link "Also in [2]")."""
    reply = compose.answered("q", [_selection("a", 0, 26, also_in=("b",))], DOCUMENTS, NOTICE)
    assert reply.text.split("\n\n")[0] == "“Ketamine is not an opioid.” [1] (also said by Neuro Wellness Spa [2])"
    assert reply.quotes[0].to_dict()["also_in"] == ["b"]
    assert [(ref.citation, ref.meta.id) for ref in reply.sources] == [(1, "a"), (2, "b")]
    assert "[2] Neuro Wellness Spa" in reply.text.split("\n\n")[1]


# ------------------------------------------------------------------------------------------- the other replies


@pytest.mark.parametrize(
    ("make", "status", "message"),
    [
        (compose.no_answer, Status.NO_ANSWER, compose.NO_ANSWER_MESSAGE),
        (compose.declined, Status.DECLINED, compose.DECLINED_MESSAGE),
    ],
)
def test_no_answer_and_declined_offer_questions_the_sources_answer(
    make: Callable[..., Answer], status: Status, message: str
) -> None:
    reply = make("how much should I take", SUGGESTIONS, NOTICE)
    assert reply.status is status
    assert reply.message == message
    assert reply.quotes == () and reply.sources == () and reply.resources == ()
    assert reply.suggestions == SUGGESTIONS
    lead = "\n" + compose.SUGGESTIONS_LEAD  # said once: the message itself has no lead-in of its own
    listed = "\n- Is Ketamine Addictive?\n- How is ketamine different from opioids?"
    assert reply.text == message + lead + listed + "\n\n" + NOTICE
    assert not message.endswith(":") and reply.text.count(compose.SUGGESTIONS_LEAD) == 1


def test_a_reply_without_suggestions_has_no_lead_in() -> None:
    reply = compose.no_answer("zzz", [], NOTICE)
    assert compose.SUGGESTIONS_LEAD not in reply.text and reply.text == compose.NO_ANSWER_MESSAGE + "\n\n" + NOTICE


def test_declined_records_the_rule_that_fired() -> None:
    assert compose.declined("q", SUGGESTIONS, NOTICE, rule="advice.direct").evidence == {"rule": 1.0}
    assert compose.declined("q", SUGGESTIONS, NOTICE).evidence == {}


def test_crisis_reply_puts_help_lines_first() -> None:
    reply = compose.crisis("i want to end it all", RESOURCES, NOTICE)
    parts = reply.text.split("\n\n")
    assert parts[0] == "Call or text 988, any time"
    assert parts[1] == "Call 911 for an emergency"
    assert parts[2] == compose.CRISIS_MESSAGE
    assert parts[-1] == NOTICE
    assert reply.quotes == () and reply.sources == () and reply.suggestions == ()
    assert reply.resources == RESOURCES
    assert [r["phone"] for r in reply.to_dict()["resources"]] == ["988", "911"]


def test_to_dict_carries_the_contract(answered: Answer) -> None:
    data = answered.to_dict()
    assert set(data) == {
        "answer_id",
        "status",
        "question",
        "message",
        "quotes",
        "sources",
        "suggestions",
        "resources",
        "follow_ups",
        "glossary",
        "contact",
        "notice",
        "text",
    }
    assert data["status"] == "answered"
    assert data["sources"][1] == {
        "citation": 2,
        "id": "b",
        "title": "Is Ketamine an Opiate?",
        "publisher": "Neuro Wellness Spa",
        "url": "https://b.example/k",
        "updated": "2024-08-22",
    }
    assert data["quotes"][0]["score"] == 0.9


# ------------------------------------------------------------------------------------------- abstention


@pytest.mark.parametrize(
    ("candidates", "top_dense", "coverage", "answers"),
    [
        (1, 0.65, 0.00, True),  # close in meaning: coverage does not matter
        (1, 0.60, 0.00, True),  # exactly at min_dense
        (1, 0.59, 0.79, False),  # neither close enough nor enough of the question's words
        (1, 0.59, 0.80, True),  # the first sentence holds the question's words, and is near enough
        (1, 0.30, 0.80, True),  # exactly at both coverage thresholds
        (1, 0.29, 1.00, False),  # shares every word but is far off in meaning: "where is palo alto"
        (1, 0.10, 0.10, False),
        (0, 0.90, 0.90, False),  # nothing to quote
    ],
)
def test_abstention_answers_on_meaning_or_on_words_near_enough(
    candidates: int, top_dense: float, coverage: float, answers: bool
) -> None:
    rule = Abstention(min_dense=0.60, min_coverage=0.80, min_dense_with_coverage=0.30)
    assert rule.should_answer(_retrieval(candidates, top_dense, coverage)) is answers


def test_evidence_reports_the_signals_rounded() -> None:
    found = _retrieval(1, 0.123456, 0.5)
    assert evidence(found) == {"top_dense": 0.1235, "top_passage": 0.6, "coverage": 0.5, "top_score": 0.7}
    assert evidence(_retrieval(0))["top_score"] == 0.0


def test_a_quote_links_into_its_article_only_when_its_source_has_a_url() -> None:
    selections = [_selection("b", *_span("b", B_TEXT)), _selection("a", *_span("a", "It blocks NMDA receptors."))]
    linked, unlinked = compose.answered("q", selections, DOCUMENTS, NOTICE).quotes
    assert linked.link == "https://b.example/k#:~:text=No%2C%20ketamine%20is%20not%20an%20opioid."
    assert linked.to_dict()["link"] == linked.link
    assert unlinked.link == "" and unlinked.to_dict()["link"] == ""
