"""What kbot offers around its quotes: the clinic's contact for questions about the clinic, follow-up questions,
glossary terms, suggestions in sentence case, and the readability grade that breaks ties in quote ranking."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from kbot.chunking import SentenceRow
from kbot.domain import BlockKind, Quote, Status
from kbot.glossary import Glossary
from kbot.guidance import _of, _ranked_questions
from kbot.logistics import LogisticsRules
from kbot.phrasing import lower_words, sentence_case
from kbot.profile import Contact
from kbot.readability import fk_grade
from kbot.service import KbotService

RULES = LogisticsRules.packaged()


@pytest.mark.parametrize(
    "question",
    [
        "what are the office hours this week",
        "What time does the clinic open on Mondays?",
        "is the clinic open on saturdays",
        "How do I book an appointment?",
        "can I reschedule my appointment",
        "how much does a session cost",
        "Do you accept Blue Cross insurance?",
        "does my insurance cover it",
        "Where can I park when I visit?",
        "what’s your phone number",
    ],
)
def test_questions_about_the_clinic_itself_are_logistics(question: str) -> None:
    assert RULES.matches(question)


@pytest.mark.parametrize(
    "question",
    [
        "what happens at an appointment for depression",
        "how often are sessions given",
        "is it covered as a treatment for pain",
        "where is springfield",
        "how much of the medicine is too much",
        "what does the receptor do",
    ],
)
def test_questions_about_the_articles_topic_are_not_logistics(question: str) -> None:
    assert not RULES.matches(question)


def with_contact(service: KbotService, contact: Contact) -> KbotService:
    kb = service.kb()
    return service.with_knowledge_base(
        dataclasses.replace(kb, profile=kb.profile.model_copy(update={"contact": contact}))
    )


def test_a_logistics_question_gets_the_knowledge_bases_contact_and_the_notice_last(fake_service: KbotService) -> None:
    contact = Contact(url="https://clinic.example/book", phone="555-0100", text="We are open 9 to 5, Monday to Friday.")
    answer = with_contact(fake_service, contact).ask("what are the clinic hours on weekdays")
    assert answer.status is Status.NO_ANSWER and answer.quotes == () and answer.suggestions == ()
    assert answer.message.startswith("I can only quote articles")
    assert "call 555-0100" in answer.message and "https://clinic.example/book" in answer.message
    assert answer.to_dict()["contact"] == {"url": contact.url, "phone": contact.phone, "text": contact.text}
    assert answer.text.endswith(answer.notice) and answer.text.count(answer.notice) == 1


def test_without_a_contact_a_logistics_question_says_to_contact_the_clinic(fake_service: KbotService) -> None:
    answer = with_contact(fake_service, Contact()).ask("How much does one session cost without insurance?")
    assert answer.message.endswith("please contact the clinic directly.") and answer.contact is None
    assert answer.to_dict()["contact"] is None and answer.text.endswith(answer.notice)


def test_a_crisis_about_the_clinic_is_still_a_crisis(fake_service: KbotService) -> None:
    assert fake_service.ask("I want to kill myself, are you open today").status is Status.CRISIS


def test_an_answer_offers_follow_ups_that_are_not_the_question_itself(fake_service: KbotService) -> None:
    answer = fake_service.ask("Is ketamine addictive?")
    assert answer.status is Status.ANSWERED
    assert 1 <= len(answer.follow_ups) <= 3
    assert all(f.endswith("?") for f in answer.follow_ups)
    assert "is ketamine addictive?" not in [f.lower() for f in answer.follow_ups]


def test_questions_come_closest_first_when_only_the_first_few_are_sorted(fake_service: KbotService) -> None:
    base = fake_service.kb()
    vector = fake_service.embedder.embed(["Is ketamine addictive?"])[0]
    vectors = np.asarray(base.index.sentence_vectors)
    derived = _of(base)
    closeness = derived.question_vectors @ vector
    everything = list(_ranked_questions(derived, closeness, first=10**6))  # one full sort
    few_first = list(_ranked_questions(derived, closeness, first=2))
    assert len(everything) > 2 and sorted(r.id for r in few_first) == sorted(r.id for r in everything)
    ranked = [float(vectors[r.id] @ vector) for r in few_first]
    assert all(a >= b - 1e-6 for a, b in itertools.pairwise(ranked))  # sums in another order


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Is Ketamine Addictive?", "Is ketamine addictive?"),
        ("How Does Stanford Study NMDA Receptors?", "How does Stanford study NMDA receptors?"),
        ("Is ketamine an opioid?", "Is ketamine an opioid?"),  # already in sentence case
    ],
)
def test_title_case_headings_become_sentence_case_keeping_names(heading: str, expected: str) -> None:
    lower = lower_words(["ketamine is addictive", "how does it study receptors"])  # "stanford" never lower
    assert sentence_case(heading, lower) == expected


def row(i: int, text: str, source: str = "a", start: int = 0) -> SentenceRow:
    return SentenceRow(i, source, i, BlockKind.PARAGRAPH, "", start, start + len(text), text)


def test_glossary_finds_definitions_by_their_shape_and_offers_them_for_quotes_that_use_the_term() -> None:
    rows = [
        row(0, "Its main action is blocking NMDA receptors, which are part of the brain's glutamate system."),
        row(1, "Emergence delirium is a state of confusion some people have as an anesthetic wears off.", start=100),
        row(2, "However, it is a different thing altogether, the study says.", start=200),
        *[row(3 + i, f"Filler sentence number {i} about nothing much.", start=300 + 50 * i) for i in range(30)],
    ]
    glossary = Glossary.of(rows)
    assert {d.term for d in glossary.definitions} == {"NMDA receptors", "Emergence delirium"}
    quote = Quote("It blocks the NMDA receptor and can cause emergence delirium.", "b", "b.txt", 0, 60, 1.0, 1)
    entries = glossary.for_quotes([quote])
    assert [e.term for e in entries] == ["NMDA receptors", "Emergence delirium"]
    assert entries[0].text == rows[0].text and (entries[0].start, entries[0].end) == (rows[0].start, rows[0].end)
    own = Quote(rows[1].text, "a", "a.txt", rows[1].start, rows[1].end, 1.0, 1)
    assert [e.term for e in glossary.for_quotes([own])] == [], "a quote that is the definition needs no popover"


def test_a_term_nearly_every_sentence_names_is_not_in_the_glossary() -> None:
    rows = [row(0, "Widgetol is a medicine for testing.")]
    rows += [row(1 + i, f"Widgetol is mentioned here, time {i}.", start=50 * (i + 1)) for i in range(10)]
    assert Glossary.of(rows).definitions == ()


@pytest.mark.parametrize("folder", ["seeds", "tests/kbs/nih-small"])
def test_the_glossary_keeps_the_terms_a_search_of_every_sentence_would(folder: str) -> None:
    """Glossary.of searches only the sentences that hold a term's words: the same terms as searching all of them."""
    from pathlib import Path

    from kbot.chunking import sentence_rows
    from kbot.glossary import MAX_SHARE, _terms, _word
    from kbot.index import read_corpus

    rows = sentence_rows(read_corpus(Path(__file__).resolve().parents[1] / folder))
    limit = max(3, int(MAX_SHARE * len(rows)))
    terms = {t.lower(): t for r in rows if r.quotable for t in _terms(r)}
    brute = {k for k, t in terms.items() if sum(1 for r in rows if _word(t).search(r.text)) <= limit}
    assert {d.term.lower() for d in Glossary.of(rows).definitions} == brute
    assert len(brute) >= 4


def test_the_glossary_offers_for_quotes_what_trying_every_term_would() -> None:
    """for_quotes tries only the terms whose first word a quote holds: the same entries as trying every term."""
    from pathlib import Path

    from kbot.chunking import sentence_rows
    from kbot.glossary import MAX_ENTRIES
    from kbot.index import read_corpus

    rows = sentence_rows(read_corpus(Path(__file__).resolve().parents[1] / "tests" / "kbs" / "nih-small"))
    glossary = Glossary.of(rows)

    def every_term(quotes: list[Quote]) -> list[str]:
        hits = []
        for d in glossary.definitions:
            if any(q.source_id == d.row.source_id and q.start < d.row.end and d.row.start < q.end for q in quotes):
                continue
            found = [(n, m.start()) for n, q in enumerate(quotes) if (m := d.pattern.search(q.text))]
            if found:
                hits.append((*found[0], d.term))
        return [term for *_, term in sorted(hits, key=lambda h: (h[0], h[1]))[:MAX_ENTRIES]]

    offered = 0
    for at in range(0, len(rows) - 3, 37):
        quotes = [Quote(r.text, r.source_id, "", r.start, r.end, 1.0, 1) for r in rows[at : at + 3]]
        quotes.append(Quote(quotes[0].text + " Treatments.", "elsewhere", "", 0, 9, 1.0, 1))  # a plural term too
        expected = every_term(quotes)
        assert [e.term for e in glossary.for_quotes(quotes)] == expected
        offered += bool(expected)
    assert offered > 20


def test_the_grade_orders_plain_and_dense_sentences() -> None:
    plain = "The drug is not an opioid. It works in a new way."
    dense = "Ketamine antagonizes N-methyl-D-aspartate receptors, precipitating glutamatergic alterations."
    assert fk_grade(plain) < 6 < 14 < fk_grade(dense)
    assert fk_grade("") == 0.0
