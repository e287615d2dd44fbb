"""End-to-end tests of the service on the real model and a real index: every quote is an exact slice of its source
file, the notice ends every reply, the answer object keeps its contract, and the four outcomes behave as promised."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from threadpoolctl import threadpool_info

from kbot.catalog import load_catalog
from kbot.domain import Answer, Status
from kbot.errors import InvalidQuestion
from kbot.evaluation.gold import load_gold
from kbot.evaluation.metrics import is_promotional
from kbot.folder import read_source_text
from kbot.service import KbotService, validate_question

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
GOLD = ROOT / "eval" / "gold.jsonl"

ANSWER_KEYS = {"status", "question", "quotes", "sources", "notice", "text"}
QUOTE_KEYS = {"text", "source_id", "source_file", "start", "end", "score", "citation"}
SOURCE_KEYS = {"citation", "id", "title", "publisher", "url", "updated"}

ONE_PER_STATUS = {
    Status.ANSWERED: "Is ketamine an opioid?",
    Status.NO_ANSWER: "what are your parking fees",
    Status.CRISIS: "I want to kill myself",
    Status.DECLINED: "How much ketamine should I be taking for my depression?",
}
NOT_AN_OPIOID = re.compile(r"\bnot (?:an|classified as an|considered an?) opioid\b", re.IGNORECASE)


# --------------------------------------------------------------------------------------------- questions and answers


def _typo(question: str) -> str:
    """The question with two letters of its longest word swapped ("opioid" -> "opoiid")."""
    word = max(question.split(), key=len)
    if len(word) < 4:
        return question
    i = len(word) // 2
    return question.replace(word, word[: i - 1] + word[i] + word[i - 1] + word[i + 1 :], 1)


def variants(question: str) -> list[str]:
    return [question.lower(), _typo(question), question.replace("?", ""), f"Please tell me: {question}"]


def bank() -> list[str]:
    """Every gold question and its variants, each once; none blank (a blank one is an InvalidQuestion)."""
    gold = [item.question for item in load_gold(GOLD)]
    everything = gold + [v for q in gold for v in variants(q)]
    return list(dict.fromkeys(q for q in everything if q.strip()))


@pytest.fixture(scope="module")
def answers(real_service: KbotService) -> list[Answer]:
    return real_service.ask_batch(bank())


@cache
def raw_text(file: str) -> str:
    """The file's exact bytes as UTF-8: no newline translation, whatever the platform."""
    return (SEEDS / file).read_bytes().decode("utf-8")


@cache
def source_text(file: str) -> str:
    return read_source_text(SEEDS / file)


def assert_contract(answer: Answer) -> None:
    body: dict[str, Any] = json.loads(json.dumps(answer.to_dict()))
    assert body.keys() >= ANSWER_KEYS
    assert body["status"] == answer.status.value
    assert body["text"] == answer.text
    assert body["notice"] == answer.notice
    for quote in body["quotes"]:
        assert quote.keys() >= QUOTE_KEYS
    for source in body["sources"]:
        assert source.keys() >= SOURCE_KEYS


def assert_citations(answer: Answer) -> None:
    """Sources are numbered 1..n, each quote cites a listed source, and its number is its source's; the sources are
    exactly those quoted or named in a quote's also_in, the quoted ones first."""
    numbers = [s.citation for s in answer.sources]
    assert numbers == list(range(1, len(numbers) + 1))
    by_number = {s.citation: s.meta.id for s in answer.sources}
    for quote in answer.quotes:
        assert by_number.get(quote.citation) == quote.source_id, (answer.question, quote)
        assert f"[{quote.citation}]" in answer.text
    quoted = {q.source_id for q in answer.quotes}
    named = {s for q in answer.quotes for s in q.also_in}
    assert set(by_number.values()) == quoted | named
    assert [by_number[n] in quoted for n in numbers] == sorted((by_number[n] in quoted for n in numbers), reverse=True)


# --------------------------------------------------------------------------------------------- the verbatim property


def test_the_bank_has_hundreds_of_questions_beyond_the_gold_set() -> None:
    assert len(bank()) >= len(load_gold(GOLD)) + 300


def test_every_quote_is_an_exact_slice_of_its_source_file(answers: Sequence[Answer]) -> None:
    quotes = [q for a in answers for q in a.quotes]
    for quote in quotes:
        assert quote.text and quote.start < quote.end, quote
        assert source_text(quote.source_file)[quote.start : quote.end] == quote.text, quote
        assert raw_text(quote.source_file)[quote.start : quote.end] == quote.text, quote
    # Not vacuous: the property was checked in every article of the catalog.
    assert {q.source_file for q in quotes} == {m.file for m in load_catalog(SEEDS)}


def test_the_answer_object_carries_the_same_verbatim_offsets(answers: Sequence[Answer]) -> None:
    for answer in answers:
        for quote in answer.to_dict()["quotes"]:
            assert raw_text(quote["source_file"])[quote["start"] : quote["end"]] == quote["text"]


def test_no_quote_is_promotional(answers: Sequence[Answer]) -> None:
    leaks = [(a.question, q.text) for a in answers for q in a.quotes if is_promotional(q.text)]
    assert leaks == []


# --------------------------------------------------------------------------------------------- notice and contract


def test_every_reply_in_the_bank_ends_with_the_notice_and_keeps_the_contract(
    answers: Sequence[Answer], real_service: KbotService
) -> None:
    notice = real_service.settings.notice
    for answer in answers:
        assert answer.text.endswith(notice), answer.question
        assert answer.notice == notice
        assert_contract(answer)
        assert_citations(answer)
    assert {a.status for a in answers} == set(Status)


@pytest.mark.parametrize("status", list(Status))
def test_each_status_ends_with_the_notice_and_keeps_the_contract(real_service: KbotService, status: Status) -> None:
    answer = real_service.ask(ONE_PER_STATUS[status])
    assert answer.status is status
    assert answer.text.endswith(real_service.settings.notice)
    assert answer.to_dict()["text"].endswith(answer.to_dict()["notice"])
    assert_contract(answer)
    assert_citations(answer)
    if status is not Status.ANSWERED:
        assert answer.quotes == () and answer.sources == ()


# --------------------------------------------------------------------------------------------- the four outcomes


def test_is_ketamine_an_opioid_is_answered_no_with_citations(real_service: KbotService) -> None:
    answer = real_service.ask("Is ketamine an opioid?")
    assert answer.status is Status.ANSWERED
    first = answer.quotes[0]
    assert NOT_AN_OPIOID.search(first.text), first.text
    assert first.citation == 1
    assert answer.sources[0].meta.id == first.source_id
    assert answer.text.startswith(f"“{first.text}” [1]")
    assert "Sources:\n[1] " in answer.text


def test_a_crisis_reply_starts_with_the_help_lines_988_first(real_service: KbotService) -> None:
    answer = real_service.ask(ONE_PER_STATUS[Status.CRISIS])
    assert answer.status is Status.CRISIS
    assert answer.quotes == ()
    lines = [h.action for h in real_service.settings.help_lines]
    assert "988" in lines[0]
    assert answer.text.startswith("\n\n".join(lines))
    assert [r.action for r in answer.resources] == lines


def test_a_declined_reply_quotes_nothing_and_suggests_questions(real_service: KbotService) -> None:
    answer = real_service.ask(ONE_PER_STATUS[Status.DECLINED])
    assert answer.status is Status.DECLINED
    assert answer.quotes == ()
    assert answer.suggestions


# (a question about the clinic itself, "what are your parking fees", gets its contact instead: test_guidance.py)
@pytest.mark.parametrize("question", ["how do volcanoes erupt under the sea", "asdfgh qwerty"])
def test_an_out_of_scope_question_gets_no_answer_and_suggestions_from_the_sources(
    real_service: KbotService, question: str
) -> None:
    answer = real_service.ask(question)
    assert answer.status is Status.NO_ANSWER
    assert answer.quotes == ()
    assert answer.suggestions
    corpus = "\n".join(raw_text(m.file) for m in load_catalog(SEEDS))
    for suggestion in answer.suggestions:  # an article's question, in sentence case ("Is It Safe?" -> "Is it safe?")
        assert suggestion.lower() in corpus.lower()
        assert f"- {suggestion}" in answer.text


@pytest.mark.parametrize("question", [",", "?!", "👍", "…"])
def test_a_message_without_a_letter_or_digit_gets_no_answer_without_retrieval(
    real_service: KbotService, question: str
) -> None:
    """Punctuation alone embeds close to short list items (cosine 0.73 for "," on the NIH library): never a quote."""
    answer = real_service.ask(question)
    assert answer.status is Status.NO_ANSWER and answer.quotes == () and answer.evidence == {}
    assert answer.suggestions and answer.text.endswith(answer.notice)


# --------------------------------------------------------------------------------------------- invalid questions


@pytest.mark.parametrize("question", ["", " ", "  \n\t  "])
def test_an_empty_question_is_invalid(question: str) -> None:
    with pytest.raises(InvalidQuestion, match="empty"):
        validate_question(question, 1000)


def test_a_question_over_the_limit_is_invalid_and_one_at_the_limit_is_not() -> None:
    with pytest.raises(InvalidQuestion, match=r"1001 characters.*limit is 1000"):
        validate_question("x" * 1001, 1000)
    assert validate_question("  " + "x" * 1000 + "\n", 1000) == "x" * 1000


@pytest.mark.parametrize("bad", ["", "   ", "x" * 1001])
def test_the_service_rejects_an_invalid_question_in_a_batch(real_service: KbotService, bad: str) -> None:
    assert real_service.settings.max_question_chars == 1000
    with pytest.raises(InvalidQuestion):
        real_service.ask_batch(["Is ketamine an opioid?", bad])


def test_loading_the_service_runs_numpys_blas_on_one_thread(fake_service: KbotService) -> None:
    """BLAS threads spinning beside torch's slow every model call (ask(): p95 76 ms without this, 10 with it)."""
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)
