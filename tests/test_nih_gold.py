"""The NIH gold sets (eval/nih/) and their generator (kbot.medquad.questions): every snippet is verbatim in its
article as kbot medquad writes it, questions a patient would type are made by rule and reproducibly, and only
sections that answer their question are asked about. Checked on synthetic documents, on the small library the CI
holds (tests/kbs/nih-small), and on the whole of MedQuAD in ../shared/medquad when it is there."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from kbot.evaluation.calibrate import question_lines
from kbot.evaluation.gold import QualityThresholds, load_config, load_gold, load_targets, load_thresholds
from kbot.folder import read_source_text
from kbot.medquad.article import article
from kbot.medquad.documents import MedquadDocument, Section, named, read_documents, select
from kbot.medquad.questions import gold_questions, patient_focus, patient_questions, typo

ROOT = Path(__file__).resolve().parents[1]
NIH = ROOT / "eval" / "nih"
SMALL = ROOT / "tests" / "kbs" / "nih-small"
MEDQUAD = ROOT.parent / "shared" / "medquad"
SETS = {split: load_gold(NIH / f"{split}.jsonl") for split in ("dev", "test")}

LONG = "Plumbing fever is a rare condition of the pipes that affects children and adults in many old houses. "
SYMPTOMS = "People with plumbing fever have a fever, dripping noises and pain in the joints for several weeks. "
SHARED = "This condition is inherited in an autosomal recessive pattern, which means both copies are altered. "


def _doc(doc_id: str, focus: str, *sections: tuple[str, str, str]) -> MedquadDocument:
    parts = tuple(Section(f"{doc_id}-{i}", qtype, q, a) for i, (qtype, q, a) in enumerate(sections, 1))
    return MedquadDocument(doc_id, "GARD", "https://example.org/x", focus, "dev", parts)


PLUMBING = _doc(
    "GARD_1",
    "Plumbing fever",
    ("information", "What is (are) Plumbing fever ?", LONG + "It was first described in 1901 by a plumber in Ohio."),
    ("symptoms", "What are the symptoms of Plumbing fever ?", SYMPTOMS + "Symptoms often start in childhood years."),
    ("inheritance", "Is Plumbing fever inherited ?", SHARED + "Carriers of this condition have no signs or symptoms."),
    ("treatment", "What are the treatments for Plumbing fever ?", "See a plumber."),
)
OTHER = _doc("GARD_2", "Gutter ache", ("inheritance", "Is Gutter ache inherited ?", SHARED + "It is rare."))


def test_snippets_are_sentences_of_the_answering_section_verbatim_in_its_article() -> None:
    items = gold_questions(named([PLUMBING]), [PLUMBING, OTHER])
    text = article(PLUMBING)
    assert items and all(e in text for q in items for e in q.evidence)
    assert all(q.article == "GARD_1" for q in items)
    symptoms = [q for q in items if q.question == "What are the symptoms of Plumbing fever ?"]
    assert symptoms[0].evidence == (SYMPTOMS.strip(), "Symptoms often start in childhood years.")


def test_short_answers_and_sentences_other_documents_say_are_not_evidence() -> None:
    items = gold_questions(named([PLUMBING]), [PLUMBING, OTHER])
    assert not [q for q in items if "treat" in q.question.lower()]  # "See a plumber." answers nothing
    inherited = next(q for q in items if q.question == "Is Plumbing fever inherited ?")
    assert inherited.evidence == ("Carriers of this condition have no signs or symptoms.",)  # not GHR's boilerplate
    alone = gold_questions(named([PLUMBING]), [PLUMBING])
    assert SHARED.strip() in next(q for q in alone if q.question == "Is Plumbing fever inherited ?").evidence


def test_a_sentence_pages_about_the_same_topic_share_is_evidence() -> None:
    ghr = _doc(
        "GHR_9", "plumbing fever", ("symptoms", "What are the signs of plumbing fever ?", SYMPTOMS + "Also cold.")
    )
    items = gold_questions(named([PLUMBING]), [PLUMBING, ghr, OTHER])
    symptoms = next(q for q in items if q.question == "What are the symptoms of Plumbing fever ?")
    assert SYMPTOMS.strip() in symptoms.evidence


def test_each_section_gets_its_template_and_patient_phrasings_reproducibly() -> None:
    items = gold_questions(named([PLUMBING]), [PLUMBING, OTHER])
    questions = [q.question for q in items]
    assert "What is (are) Plumbing fever ?" in questions
    patient = [q for q in questions if q == q.lower()]
    assert len(patient) >= 4 and all(re.fullmatch(r"[a-z0-9' -]+", q) for q in patient)
    assert len(set(questions)) == len(questions)
    assert [q.question for q in gold_questions(named([PLUMBING]), [PLUMBING, OTHER])] == questions
    assert [q.question for q in gold_questions(named([PLUMBING]), [PLUMBING, OTHER], seed=7)] != questions


def test_a_question_two_articles_would_answer_is_left_out() -> None:
    first = PLUMBING.sections[0]
    twin = _doc("GARD_3", "Plumbing fever", (first.qtype, first.question, first.answer))
    questions = {q.question for q in gold_questions(named([PLUMBING, twin]), [PLUMBING, twin])}
    assert "What is (are) Plumbing fever ?" not in questions
    assert "What are the symptoms of Plumbing fever ?" in questions


def test_patient_phrasings_follow_the_section_and_its_text() -> None:
    symptoms = PLUMBING.sections[1]
    forms: set[str] = set()
    for seed in range(60):
        forms |= set(patient_questions(symptoms, "Plumbing fever", random.Random(seed)))
    assert {"plumbing fever symptoms", "plumbing fever in kids", "does plumbing fever cause fever"} <= forms
    assert "does plumbing fever cause pain" not in forms  # one sign at most: the first the text names
    booklet = Section("x-1", "symptoms", "q", SYMPTOMS)
    assert patient_questions(booklet, "What I need to know about Gas", random.Random(1)) == []


def test_patient_focus_and_typos() -> None:
    assert patient_focus("Hepatitis B (HBV)") == "hepatitis b"
    assert patient_focus("Parasites - Ascariasis") == "ascariasis"
    assert patient_focus("Graves' Disease") == "graves' disease"
    slip = typo("plumbing fever symptoms", random.Random(3))
    assert slip != "plumbing fever symptoms" and len(slip) >= len("plumbing fever symptoms") - 1
    assert typo("flu is bad", random.Random(3)) == "flu is bad"  # no word long enough to slip on


# ------------------------------------------------------------------------------------------------ the committed sets


@pytest.mark.parametrize("split", ["dev", "test"])
def test_the_sets_are_answerable_items_each_naming_its_article_then_off_topic_ones(split: str) -> None:
    items = SETS[split]
    answerable = [q for q in items if q.kind == "answerable"]
    off_topic = items[len(answerable) :]
    assert len(answerable) > 1000 and all(q.evidence and q.article for q in answerable)
    assert len(off_topic) >= 60 and all(q.kind == "out_of_scope" and not q.article for q in off_topic)
    assert len({q.question.casefold() for q in items}) == len(items)


def test_dev_and_test_ask_about_different_articles_and_share_no_off_topic_question() -> None:
    assert not {q.article for q in SETS["dev"] if q.article} & {q.article for q in SETS["test"] if q.article}
    assert not {q.question for q in SETS["dev"] if not q.article} & {q.question for q in SETS["test"] if not q.article}
    every = {q.question for split in SETS.values() for q in split if q.kind == "out_of_scope"}
    assert every == set(question_lines((ROOT / "eval" / "off_topic.txt").read_text(encoding="utf-8")))


def test_the_off_topic_questions_measured_on_are_not_those_calibrated_on() -> None:
    measured = question_lines((ROOT / "eval" / "off_topic.txt").read_text(encoding="utf-8"))
    shipped = question_lines((ROOT / "src" / "kbot" / "data" / "off_topic.txt").read_text(encoding="utf-8"))
    assert len(measured) >= 150 and len(shipped) >= 200
    assert not {_words(q) for q in measured} & {_words(q) for q in shipped} - {""}  # "" : emoji alone, in both


def _words(question: str) -> str:
    return " ".join(re.findall(r"\w+", question.casefold()))


@pytest.mark.parametrize("split", ["dev", "test"])
def test_snippets_are_verbatim_in_the_small_librarys_articles(split: str) -> None:
    held = [q for q in SETS[split] if q.article and (SMALL / f"{q.article}.md").is_file()]
    assert len(held) > 100
    texts = {q.article: read_source_text(SMALL / f"{q.article}.md") for q in held}
    assert not [(q.id, e) for q in held for e in q.evidence if e not in texts[q.article]]


@pytest.mark.skipif(not MEDQUAD.is_dir(), reason="MedQuAD is not in ../shared/medquad")
def test_snippets_are_verbatim_in_every_article_of_medquad() -> None:
    entries = named(read_documents(MEDQUAD))
    for split, items in SETS.items():
        texts = {stem: article(doc) for stem, doc in select(entries, [split], [])}
        assert not [(q.id, e) for q in items if q.article for e in q.evidence if e not in texts[q.article]]


@pytest.mark.parametrize("split", ["dev", "test"])
def test_the_configs_measure_quality_beside_both_baselines(split: str) -> None:
    path = NIH / f"{split}.toml"
    config, gate, targets = load_config(path), load_thresholds(path), load_targets(path)
    assert config.baselines == ["chunk", "section"] and not config.safety
    assert isinstance(gate, QualityThresholds) and isinstance(targets, QualityThresholds)
    assert targets.min_support_at_1_margin_vs_best_baseline == 0.10 and targets.answerable_answered == 0.90
    assert gate.faithfulness == 1.0 and gate.notice_rate == 1.0
    assert gate.answerable_answered >= targets.answerable_answered  # kbot answers nearly all: never let it slip
