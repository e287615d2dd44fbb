"""The reader: the shipped cross-encoder loads offline and reads, it reorders only retrieval's best candidates, an index
is served only with the reader it was built for, and the training script runs end to end on a few train articles."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kbot.chunking import BlockKind, SentenceRow
from kbot.config import Settings
from kbot.embedding import Embedder
from kbot.errors import IndexStale, InvalidSettings
from kbot.index import build_index
from kbot.reader import Reader, Reading, packaged_reader_dir, reader_id
from kbot.reader.model import SETTINGS_FILE, WEIGHTS_FILE
from kbot.retrieval import Candidate

ROOT = Path(__file__).resolve().parents[1]
ASTHMA = ROOT / "tests" / "kbs" / "asthma"
MEDQUAD = ROOT.parent / "shared" / "medquad"


@pytest.fixture(scope="module")
def reader() -> Reader:
    return Reader().load()


def test_the_shipped_weights_fit_the_repository_and_name_themselves() -> None:
    folder = packaged_reader_dir()
    weights = folder / WEIGHTS_FILE
    assert weights.stat().st_size <= 50 * 1024 * 1024
    assert (folder / "README.md").is_file()  # the model card
    settings = json.loads((folder / SETTINGS_FILE).read_text(encoding="utf-8"))
    digest = hashlib.sha256(weights.read_bytes()).hexdigest()[:16]
    assert reader_id(Settings()) == f"{settings['name']} {digest}"
    assert reader_id(Settings(reader=False)) == ""


@pytest.mark.model
def test_the_reader_tells_the_answering_sentence_from_one_on_another_aspect(reader: Reader) -> None:
    # Made-up sentences in the NIH articles' shape (title: heading. sentence); none is in a gold set.
    causes = "Gout: Causes. Gout is caused by too much uric acid in the blood, which forms crystals in a joint."
    treatment = "Gout: Treatment. Doctors treat gout attacks with anti-inflammatory medicines and rest."
    symptoms = "Gout: Symptoms. A gout attack brings sudden pain, swelling and redness in a joint, often the big toe."
    for question, answer in (("what causes gout", causes), ("how is gout treated?", treatment)):
        passages = [causes, treatment, symptoms]
        read = reader.probabilities(question, passages)
        assert read.shape == (3,) and np.all((read >= 0) & (read <= 1))
        assert passages[int(np.argmax(read))] == answer, (question, read)
    assert reader.logits("anything", []).shape == (0,)


@pytest.mark.model
def test_an_int8_reader_ranks_as_the_shipped_one_does(reader: Reader) -> None:
    import torch

    quantised = Reader(int8=True).load()
    assert Reader(int8=False).int8 is False and Settings(reader_int8=True).reader_int8
    question = "what causes gout"
    passages = [
        "Gout: Causes. Gout is caused by too much uric acid in the blood, which forms crystals in a joint.",
        "Gout: Treatment. Doctors treat gout attacks with anti-inflammatory medicines and rest.",
        "Gout: Symptoms. A gout attack brings sudden pain, swelling and redness in a joint, often the big toe.",
        "Gout: Outlook. With treatment, most people with gout can control their symptoms.",
    ]
    exact, approx = reader.logits(question, passages), quantised.logits(question, passages)
    assert list(np.argsort(-approx)) == list(np.argsort(-exact)), (exact, approx)
    assert np.max(np.abs(approx - exact)) < 0.5 * (exact.max() - exact.min())
    # A scale per output channel (one per matrix lost a point of support@1); the one-output classifier in float32
    int8 = [m for m in quantised._model.modules() if isinstance(m, torch.ao.nn.quantized.dynamic.Linear)]
    assert len(int8) == 3 * 6 + 1 and {m.weight().qscheme() for m in int8} == {torch.per_channel_affine}
    assert [m.out_features for m in quantised._model.modules() if isinstance(m, torch.nn.Linear)] == [1]


@pytest.mark.model
def test_an_int8_reader_scores_a_question_the_same_whatever_is_read_beside_it() -> None:
    """int8 takes one scale for a pass's whole input, so the server's micro-batches would change a patient's answer
    with the traffic around it; each question's pairs are read in passes of their own instead."""
    quantised = Reader(int8=True).load()
    gout = [
        ("what causes gout", "Gout: Causes. Gout is caused by too much uric acid in the blood, which forms crystals."),
        ("what causes gout", "Gout: Treatment. Doctors treat gout attacks with anti-inflammatory medicines and rest."),
        ("what causes gout", "Gout: Symptoms. A gout attack brings sudden pain, swelling and redness in a joint."),
    ]
    other = [
        (
            "IS ASTHMA INHERITED??? my son wheezes at night",
            "Asthma: Genetic changes. Asthma runs in families: a child with a parent who has asthma is three to six "
            "times as likely to have it, though no single gene causes it and the environment (smoke, allergens, "
            "infections) matters as much.",
        ),
        (
            "IS ASTHMA INHERITED??? my son wheezes at night",
            "Asthma: Outlook. Most children with asthma lead normal lives.",
        ),
    ]
    alone = quantised._logits(gout)
    beside = quantised._logits([other[0], gout[0], gout[1], other[1], gout[2]])
    assert np.array_equal(beside[[1, 2, 4]], alone)
    assert np.array_equal(beside[[0, 3]], quantised._logits(other))
    assert not np.array_equal(quantised._predict(gout + other)[:3], alone)  # what one pass for both would give


@pytest.mark.model
def test_in_bfloat16_the_weights_are_cast_once_for_the_scores_autocast_gives() -> None:
    import torch

    narrow = Reader(bf16=True).load()
    question, passages = "what causes gout", ["Gout: Causes. Too much uric acid.", "Gout: Treatment. Rest and ice."]
    cast_once = narrow.logits(question, passages)
    linear = [m for m in narrow._model.modules() if isinstance(m, torch.nn.Linear)]
    assert linear and {p.dtype for m in linear for p in m.parameters()} == {torch.bfloat16}
    for module in linear:  # float32 again: autocast casts them at every pass, to the same values
        module.float()
    assert np.array_equal(narrow.logits(question, passages), cast_once)
    wide = Reader(bf16=False).load()
    assert {p.dtype for p in wide._model.model.parameters()} == {torch.float32}


@pytest.mark.model
def test_pairs_are_padded_to_a_multiple_of_pad_to_word_pieces(reader: Reader) -> None:
    """Fewer shapes of input: each is another oneDNN primitive cached and another buffer size for the allocator (a
    server's memory grew with the questions it had seen)."""
    from kbot.reader.model import PAD_TO

    pairs = [("what causes gout", "Gout: Causes. Too much uric acid."), ("is it inherited", "Gout: Genetics. Rarely.")]
    for batch in (pairs[:1], pairs):
        features = reader._model.preprocess(batch)
        assert features["input_ids"].shape[1] % PAD_TO == 0
        assert features["input_ids"].shape[1] - int(features["attention_mask"].sum(dim=1).max()) < PAD_TO


def _candidate(i: int, score: float) -> Candidate:
    row = SentenceRow(i, "a", i, BlockKind.PARAGRAPH, "", 0, 0, f"sentence {i}")
    return Candidate(row, score, score, 0.0, 0.0, 0.0)


def test_rerank_reorders_only_the_first_depth_candidates_and_only_raises_their_scores() -> None:
    candidates = [_candidate(i, 1.0 - i / 100) for i in range(14)]
    reader = Reader()  # its weights stay unloaded: the probabilities are given
    reader.settings = dataclasses.replace(reader.settings, depth=4, weight=1.0)
    given = {f"passage {i}": p for i, p in enumerate([0.1, 0.2, 0.9, 0.3])}
    reader._probabilities = lambda pairs: np.array([given[p] for _, p in pairs])  # type: ignore[method-assign]
    out = reader.rerank("q", candidates, lambda row: f"passage {row.id}")
    assert [c.row.id for c in out[:4]] == [2, 3, 1, 0]  # 0.98 + 0.9 first; 0.97 + 0.3 before 0.99 + 0.2
    assert [round(c.score, 6) for c in out[:4]] == [1.88, 1.27, 1.19, 1.1]
    assert out[4:] == tuple(candidates[4:])  # the tail as it was, below every lifted score
    assert min(c.score for c in out[:4]) > max(c.score for c in out[4:])


def test_each_library_may_set_its_own_depth_and_weight_and_weight_zero_reads_nothing() -> None:
    candidates = [_candidate(i, 1.0 - i / 100) for i in range(6)]
    reader = Reader()
    asked: list[list[tuple[str, str]]] = []

    def probabilities(pairs: list[tuple[str, str]]) -> np.ndarray:
        asked.append(pairs)
        return np.array([0.9 if p.endswith("2") else 0.0 for _, p in pairs])

    reader._probabilities = probabilities  # type: ignore[method-assign]
    passage = lambda row: f"passage {row.id}"  # noqa: E731
    off, shallow, deep = reader.rerank_batch(
        [
            Reading("a", candidates, passage, weight=0.0),
            Reading("b", candidates, passage, depth=2, weight=1.0),
            Reading("c", candidates, passage, depth=3, weight=1.0),
        ]
    )
    assert off == tuple(candidates)  # retrieval's order, and none of its candidates read
    assert shallow == tuple(candidates)  # candidate 2 lies below its depth: it cannot rise
    assert [c.row.id for c in deep[:3]] == [2, 0, 1]
    assert [len(pairs) for pairs in asked] == [5]  # one model call: 2 + 3 pairs


def test_a_reader_that_skims_reads_each_heading_once_then_the_best_few_whole() -> None:
    # Sentences 0-5 of three sections: a, a, b, b, c, c; the reader finds the answer under heading c.
    candidates = [_candidate(i, 1.0 - i / 100) for i in range(8)]
    reader = Reader()
    reader.settings = dataclasses.replace(reader.settings, depth=6, whole=2, weight=1.0)
    given = {"head a": 0.1, "head b": 0.2, "head c": 0.8, "whole 4": 0.3, "whole 5": 0.9}
    calls: list[list[tuple[str, str]]] = []

    def probabilities(pairs: list[tuple[str, str]]) -> np.ndarray:
        calls.append(pairs)
        return np.array([given[p] for _, p in pairs])

    reader._probabilities = probabilities  # type: ignore[method-assign]
    [out] = reader.rerank_batch(
        [
            Reading(
                "q",
                candidates,
                lambda row: f"whole {row.id}",
                heading=lambda row: f"head {'abc'[row.id // 2]}" if row.id < 6 else f"whole {row.id}",
            )
        ]
    )
    # one call for the three distinct headings, one for the two sentences of the best heading (c: 4, 5)
    assert calls == [[("q", "head a"), ("q", "head b"), ("q", "head c")], [("q", "whole 4"), ("q", "whole 5")]]
    assert [c.row.id for c in out] == [5, 4, 2, 3, 0, 1, 6, 7]  # read whole, then the skimmed: b (+0.2) before a
    assert [round(c.score, 6) for c in out[:2]] == [1.85, 1.26]
    assert out[2].score < out[1].score and [c.score for c in out[2:6]] == sorted([c.score for c in out[2:6]])[::-1]
    assert out[6:] == tuple(candidates[6:])  # below the depth: as retrieval left them
    # Without headings (a caller that gives none) it reads every candidate whole
    calls.clear()
    given.update({f"whole {i}": 0.0 for i in range(4)})
    [plain] = reader.rerank_batch([Reading("q", candidates, lambda row: f"whole {row.id}")])
    assert calls == [[("q", f"whole {i}") for i in range(6)]] and [c.row.id for c in plain[:2]] == [5, 4]


def test_a_missing_reader_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidSettings, match="No reader in") as err:
        Reader(tmp_path)
    assert "KBOT_READER=false" in err.value.fix


@pytest.mark.model
def test_a_library_served_with_the_reader_quotes_exact_spans_in_the_readers_order(
    make_settings: Callable[..., Settings], real_embedder: Embedder, tmp_path: Path
) -> None:
    from kbot.service import KbotService

    settings = make_settings(index_dir=tmp_path / "index", knowledge_bases={"asthma": ASTHMA}, reader=True)
    build_index(ASTHMA, tmp_path / "index" / "asthma", real_embedder, reader=reader_id(settings))
    service = KbotService.load(settings, real_embedder, only=["asthma"])
    assert service.reader is not None
    base = service.kb("asthma")
    question = "what are the side effects of inhalers"
    answer = service.ask(question, "asthma")
    assert answer.quotes and answer.text.endswith(base.notice)
    for quote in answer.quotes:
        assert base.index.documents[quote.source_id].text[quote.start : quote.end] == quote.text
    # the first quote holds one of the three candidates the reader put first
    queries, encoded = service.encode_questions([question], base)
    found = base.retriever.retrieve(queries[0], encoded[0])
    # what the reader skims is what it reads whole without the sentence: "Title: Heading" of "Title: Heading. Sentence"
    heading, passage = base.retriever.heading, base.retriever.passage
    assert all(passage(c.row).startswith(heading(c.row)) for c in found.candidates)
    assert any(heading(c.row) != passage(c.row) for c in found.candidates)
    read = service.reader.rerank(question, found.candidates, passage, heading)[:3]
    first = answer.quotes[0]
    assert any(c.row.source_id == first.source_id and first.start <= c.row.start < first.end for c in read)
    with pytest.raises(IndexStale, match="not for 'no reader'"):  # the same index served without its reader
        KbotService.load(settings.model_copy(update={"reader": False}), real_embedder, only=["asthma"])


@pytest.mark.model
@pytest.mark.skipif(not (MEDQUAD / "documents.jsonl.gz").exists(), reason="needs ../shared/medquad")
def test_training_runs_end_to_end_on_a_few_train_articles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], make_settings: Callable[..., Settings]
) -> None:
    from kbot.reader import training

    out = tmp_path / "reader"
    labelled = f"{ROOT / 'eval' / 'calibration.jsonl'}={ROOT / 'seeds'}"
    work = str(tmp_path / "work")
    options = ["--articles", "6", "--epochs", "1", "--labelled", labelled, "--heading-dropout", "0.5"]
    training.main([str(MEDQUAD), "--out", str(out), "--work", work, *options])
    log = json.loads((out / "training-log.json").read_text(encoding="utf-8"))
    assert log["articles"] == 6 and log["groups"] > 0 and log["steps"][-1]["step"] == log["steps"][-1]["of"]
    assert 50 < len(log["labelled_trained_ids"]) < 140  # about half of the 184 answerable questions
    assert log["plan"]["heading_dropout"] == 0.5
    assert all(np.isfinite(s["loss"]) for s in log["steps"])
    trained = Reader(out).load()
    assert trained.name == "kbot-reader-1" and trained.settings.max_length == training.MAX_LENGTH
    assert np.all(
        np.isfinite(
            trained.logits("what causes gout", ["Gout: Causes. Too much uric acid.", "The clinic opens at nine."])
        )
    )
    assert reader_id(make_settings(reader=True, reader_dir=out)).endswith(trained.digest)
    assert "groups" in capsys.readouterr().out

    # A smaller reader distilled from it: its first and last layers, taught its logits
    groups = [training.Group("what causes gout", ("Gout: Causes. Too much uric acid.", "Gout: Treatment. Rest."), 1)]
    steps: list[dict[str, Any]] = []
    plan = dataclasses.replace(training.Plan(), start=str(out), layers=(0, 2), batch_groups=1, epochs=2)
    student = training.train(groups, plan, steps)
    assert student.model.config.num_hidden_layers == 2 and len(student.model.bert.encoder.layer) == 2
    assert [s["step"] for s in steps] == [2] and np.isfinite(steps[0]["loss"])
    card = tmp_path / "student" / "README.md"  # a hand-written model card survives a run that writes over its folder
    card.parent.mkdir()
    card.write_text("# kbot-reader-small\n", encoding="utf-8")
    training.save(student, card.parent, "kbot-reader-small", {"steps": steps})
    assert card.read_text(encoding="utf-8") == "# kbot-reader-small\n"
    assert Reader(card.parent).load().name == "kbot-reader-small"
    with pytest.raises(SystemExit, match="has layers 0,1,2"):
        training.main([str(MEDQUAD), "--out", str(tmp_path / "small"), "--start", str(out), "--layers", "0,3"])
