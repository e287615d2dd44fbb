"""Help lines beside answers about emergencies: an educational question about an overdose, someone not breathing,
poisoning or suicide is answered from the sources as usual (it is not a crisis), and its answer carries the help lines
too, because its reader may be facing one. The gate flags such questions ([emergency_topic] in safety.toml); the
service puts the help lines into answered and no_answer replies; the plain text lists them first.

The tables are written from patients' phrasings, independently of the evaluation set (eval/gold.jsonl)."""

from __future__ import annotations

import dataclasses
import tomllib
from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from kbot import answer as compose
from kbot.api import create_app
from kbot.api.schemas import AnswerOut
from kbot.chunking import SentenceRow
from kbot.config import Settings
from kbot.domain import BlockKind, Document, Resource, SourceMeta, Status
from kbot.embedding import FakeEmbedder
from kbot.quotes import Selection
from kbot.retrieval import Candidate
from kbot.safety import SafetyGate
from kbot.service import KbotService

NOT_BREATHING = "What should you do if someone is not breathing?"

# Questions about an emergency, asked as education or first aid: "ok" for the gate, with the help lines beside them.
EMERGENCY_TOPIC = [
    # the brief's own
    NOT_BREATHING,
    "what are the signs of an overdose",
    "what do i do if someone overdoses on opioids",
    "how do you know if someone is overdosing",
    # mine
    "how can you tell if a person has stopped breathing",
    "what should you do if someone will not wake up after using opioids",
    "what happens during a fentanyl overdose",
    "how do you help someone who is having a seizure",
    "what to do if a toddler swallowed dish soap",
    "when should you call poison control",
    "what are the warning signs of suicide",
    "what are the signs that someone is self harming",
    "how do you use narcan",
    "why do lips turn blue during an overdose",
    "what is a lethal dose of fentanyl",
    "what should you do if someone is unresponsive",
    "how do you give rescue breathing",
    "what happens if a child eats rat poison",
    "what should you do when someone is choking",
    "can ketamine make you stop breathing",
    "what does an opioid overdose look like",
    "is 988 free to call",
    "how do i recognise when a friend has taken too many pills",
    "what to do if someone od's on fentanyl",
]

# Questions that merely name a drug, a drug class or a side effect: no help lines.
NOT_EMERGENCY_TOPIC = [
    "is ketamine an opioid",
    "is ketamine an opiate",
    "what are the side effects",
    "what are the side effects of ketamine",
    "what are the side effects of spravato",
    "does ketamine activate opioid receptors",
    "how is ketamine different from opioids like morphine",
    "can opioids be used for chronic pain",
    "is fentanyl an opioid",
    "what is naltrexone for",
    "is narcan the same as naltrexone",
    "does ketamine cause nausea or headaches",
    "does ketamine cause respiratory depression",
    "is ketamine addictive",
    "how long do the side effects of an infusion last",
    "what dose of ketamine is used for depression",
    "can you mix ketamine and alcohol",
    "is ketamine a scheduled drug",
    "does ketamine make you unconscious",
    "why do people pass out on ketamine",
    "my doctor said ketamine is not an opioid, is that true",
    "how much does ketamine therapy cost",
    "this question is killing me, is ketamine an opioid",
    "i am dying to know how ketamine works",
    "my depression is not responding to lexapro, what is ketamine",
    "i did too much yoga and my legs are numb",
    "i took too much time off work, is ketamine an opioid",
]


@pytest.fixture(scope="module")
def gate() -> SafetyGate:
    """The ketamine knowledge base's gate: the packaged rules plus seeds/safety.toml."""
    return SafetyGate.from_file(Path(__file__).resolve().parents[1] / "seeds" / "safety.toml")


# ------------------------------------------------------------------------------------------------------- the gate
def test_tables_are_large_and_distinct() -> None:
    assert len(EMERGENCY_TOPIC) >= 15 and len(NOT_EMERGENCY_TOPIC) >= 15
    assert len(set(EMERGENCY_TOPIC)) == len(EMERGENCY_TOPIC)
    assert len(set(NOT_EMERGENCY_TOPIC)) == len(NOT_EMERGENCY_TOPIC)
    assert not set(EMERGENCY_TOPIC) & set(NOT_EMERGENCY_TOPIC)


@pytest.mark.parametrize("question", EMERGENCY_TOPIC)
def test_an_emergency_asked_about_is_answered_and_flagged(gate: SafetyGate, question: str) -> None:
    verdict = gate.classify(question)
    assert (verdict.kind, verdict.emergency_topic) == ("ok", True), f"{gate.normalise(question)!r} -> {verdict}"


@pytest.mark.parametrize("question", NOT_EMERGENCY_TOPIC)
def test_a_drug_or_side_effect_question_is_not_flagged(gate: SafetyGate, question: str) -> None:
    verdict = gate.classify(question)
    assert (verdict.kind, verdict.emergency_topic) == ("ok", False), f"{gate.normalise(question)!r} -> {verdict}"


@pytest.mark.parametrize(
    ("question", "kind"),
    [
        ("my friend is not breathing", "crisis"),
        ("i think i overdosed on ketamine", "crisis"),
        ("can i use narcan with my suboxone", "advice"),
        ("how much naloxone should i take if i overdose on my meds by accident", "advice"),
    ],
)
def test_only_an_ok_verdict_carries_the_flag(gate: SafetyGate, question: str, kind: str) -> None:
    """A crisis reply has the help lines already, and a declined reply stays as it is."""
    verdict = gate.classify(question)
    assert (verdict.kind, verdict.emergency_topic) == (kind, False)


def test_a_rules_file_without_the_bank_flags_nothing() -> None:
    config = tomllib.loads(resources.files("kbot").joinpath("data/safety.toml").read_text(encoding="utf-8"))
    del config["emergency_topic"]
    verdict = SafetyGate(config).classify(NOT_BREATHING)
    assert (verdict.kind, verdict.emergency_topic) == ("ok", False)


# ------------------------------------------------------------------------------------------- plain-text rendering
NOTICE = "kbot only quotes published articles. Please consult a clinician."
HELP = (
    Resource("988 Suicide & Crisis Lifeline", "Call or text 988, any time", "988", "988"),
    Resource("Emergency services", "Call 911 for an emergency", "911"),
)
HELP_BLOCK = "If someone is in danger now:\n- Call or text 988, any time\n- Call 911 for an emergency"
TEXT = "If someone is not breathing, call 911. Give naloxone if you have it."
DOCUMENTS = {"a": Document(SourceMeta("a", "a.txt", "Overdose first aid", "Health Dept"), TEXT, (), ())}


def _selection(start: int, end: int) -> Selection:
    row = SentenceRow(start, "a", 0, BlockKind.PARAGRAPH, "", start, end, TEXT[start:end])
    scores = [0.8] * (len(dataclasses.fields(Candidate)) - 1)  # every signal 0.8, whatever the retriever names them
    return Selection((row,), Candidate(row, *scores), ())


def test_plain_text_lists_the_help_lines_first_and_the_notice_last() -> None:
    first, second = TEXT.index("If"), TEXT.index("Give")
    selections = [_selection(first, second - 1), _selection(second, len(TEXT))]
    reply = compose.answered(NOT_BREATHING, selections, DOCUMENTS, NOTICE, resources=HELP)
    assert reply.text.split("\n\n") == [
        HELP_BLOCK,
        "“If someone is not breathing, call 911.” [1]",
        "“Give naloxone if you have it.” [1]",
        "Sources:\n[1] Health Dept, “Overdose first aid”",
        NOTICE,
    ]
    assert reply.resources == HELP and reply.status is Status.ANSWERED
    assert [r["phone"] for r in reply.to_dict()["resources"]] == ["988", "911"]
    plain = compose.answered(NOT_BREATHING, selections, DOCUMENTS, NOTICE)
    assert "danger" not in plain.text and plain.resources == ()


def test_a_no_answer_reply_lists_the_help_lines_first() -> None:
    reply = compose.no_answer(NOT_BREATHING, ["What is naloxone?"], NOTICE, resources=HELP)
    suggested = compose.NO_ANSWER_MESSAGE + "\n" + compose.SUGGESTIONS_LEAD + "\n- What is naloxone?"
    assert reply.text.split("\n\n") == [HELP_BLOCK, suggested, NOTICE]
    assert reply.resources == HELP and reply.status is Status.NO_ANSWER


# ------------------------------------------------------------------------------------------------------ the service
def _never_answers(service: KbotService) -> KbotService:
    """The same service with every abstention threshold above any cosine or share: it always abstains."""
    kb = service.kb()
    strict = dataclasses.replace(kb.abstention, **{f.name: 2.0 for f in dataclasses.fields(kb.abstention)})
    return service.with_knowledge_base(dataclasses.replace(kb, abstention=strict))


def test_the_service_puts_the_help_lines_beside_answers_about_emergencies(fake_service: KbotService) -> None:
    for question in [NOT_BREATHING, "what are the signs of an overdose", "what is poison control"]:
        answer = fake_service.ask(question)
        assert answer.status in (Status.ANSWERED, Status.NO_ANSWER), question
        assert answer.resources == fake_service.kb().resources, question
        assert answer.text.endswith("\n\n" + answer.notice)
        assert answer.text.startswith("If someone is in danger now:")
    for question in ["is ketamine an opioid", "what are the side effects of ketamine"]:
        assert fake_service.ask(question).resources == (), question


def test_a_no_answer_reply_about_an_emergency_has_the_help_lines(fake_service: KbotService) -> None:
    service = _never_answers(fake_service)
    flagged, plain = service.ask_batch([NOT_BREATHING, "is ketamine an opioid"])
    assert flagged.status is plain.status is Status.NO_ANSWER
    assert flagged.resources == service.kb().resources and plain.resources == ()
    assert flagged.suggestions  # kept beside the help lines
    assert flagged.text.startswith("If someone is in danger now:")


def test_declined_and_crisis_replies_are_unchanged(fake_service: KbotService) -> None:
    declined = fake_service.ask("can i use narcan with my suboxone")
    assert declined.status is Status.DECLINED and declined.resources == ()
    crisis = fake_service.ask("my friend is not breathing")
    assert crisis.status is Status.CRISIS and set(crisis.resources) == set(fake_service.kb().resources)
    assert crisis.resources[0].phone == "911"  # the line for someone not breathing first
    assert "If someone is in danger now:" not in crisis.text


def test_the_not_breathing_question_is_answered_with_the_help_lines(real_service: KbotService) -> None:
    answer = real_service.ask(NOT_BREATHING)
    assert answer.status is Status.ANSWERED and answer.quotes
    assert answer.resources == real_service.kb().resources
    text = answer.text
    assert text.startswith("If someone is in danger now:")
    assert text.index(f"- {real_service.kb().resources[-1].action}") < text.index(f"“{answer.quotes[0].text}”")
    assert all(f"- {r.action}" in text for r in real_service.kb().resources)
    assert text.endswith("\n\n" + answer.notice) and text.count(answer.notice) == 1


# ---------------------------------------------------------------------------------------------------------- the API
@pytest.fixture(scope="module")
def client(
    make_settings: Callable[..., Settings], fake_index_dir: Path, fake_service: KbotService
) -> Iterator[TestClient]:
    settings = make_settings(index_dir=fake_index_dir, model_name=FakeEmbedder.name)
    with TestClient(create_app(settings, fake_service)) as c:
        yield c


def test_the_api_schema_allows_help_lines_beside_an_answer(client: TestClient, fake_service: KbotService) -> None:
    body = client.post("/v1/ask", json={"question": NOT_BREATHING}).json()
    AnswerOut.model_validate(body)
    assert body["status"] in ("answered", "no_answer")
    assert body["resources"] == [r.to_dict() for r in fake_service.kb().resources]
    assert body["text"].endswith(body["notice"])
