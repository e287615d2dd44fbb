"""The reader's question adapter: numpy computes what torch trained, the shipped one loads with the reader, retrieval
ranks by the adapted vector while abstention keeps the question's own, a library's kb.toml decides whether it is used,
and the training script learns and runs end to end on a few train articles."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from kbot.embedding import FakeEmbedder, unit_rows
from kbot.errors import InvalidSettings
from kbot.profile import ReaderUse
from kbot.reader import Reader, packaged_reader_dir
from kbot.reader.adapter import ADAPTER_FILE, QueryAdapter
from kbot.service import KbotService

ROOT = Path(__file__).resolve().parents[1]
MEDQUAD = ROOT.parent / "shared" / "medquad"


def _random_adapter(dim: int = 8, hidden: int = 5, seed: int = 0) -> QueryAdapter:
    rng = np.random.default_rng(seed)
    return QueryAdapter(*(rng.normal(size=shape) for shape in ((dim, hidden), (hidden,), (hidden, dim), (dim,))))


def test_the_adapter_computes_what_torch_trained() -> None:
    import torch

    adapter = _random_adapter()
    first, second = torch.nn.Linear(8, 5), torch.nn.Linear(5, 8)
    with torch.no_grad():
        for layer, weight, bias in ((first, adapter.w1, adapter.b1), (second, adapter.w2, adapter.b2)):
            layer.weight.copy_(torch.from_numpy(weight.T))
            layer.bias.copy_(torch.from_numpy(bias))
        net = torch.nn.Sequential(first, torch.nn.GELU(approximate="tanh"), second)
        q = unit_rows(np.random.default_rng(1).normal(size=(4, 8)))
        expected = torch.nn.functional.normalize(torch.from_numpy(q) + net(torch.from_numpy(q)), dim=-1).numpy()
    moved = adapter(q)
    np.testing.assert_allclose(moved, expected, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(moved, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(moved, q)
    still = QueryAdapter(adapter.w1, adapter.b1, np.zeros((5, 8)), np.zeros(8))  # as training starts: q' = q
    np.testing.assert_allclose(still(q), q, atol=1e-6)
    np.testing.assert_allclose(adapter(q[0]), moved[:1], atol=1e-6)  # one vector is a batch of one


def test_an_adapter_is_written_and_read_back_and_a_broken_one_is_a_clear_error(tmp_path: Path) -> None:
    adapter = _random_adapter()
    adapter.write(tmp_path / ADAPTER_FILE)
    again = QueryAdapter.read(tmp_path / ADAPTER_FILE)
    assert again.digest == adapter.digest and again.dim == 8
    q = unit_rows(np.ones((1, 8)))
    np.testing.assert_array_equal(again(q), adapter(q))
    assert _random_adapter(seed=1).digest != adapter.digest
    (tmp_path / "broken.npz").write_bytes(b"not an npz")
    with pytest.raises(InvalidSettings, match="cannot be read") as err:
        QueryAdapter.read(tmp_path / "broken.npz")
    assert "kbot.reader.adapting" in err.value.fix
    with pytest.raises(ValueError, match="do not fit"):
        QueryAdapter(np.zeros((8, 5)), np.zeros(5), np.zeros((4, 8)), np.zeros(8))


def test_the_shipped_adapter_loads_with_the_reader_and_names_its_training() -> None:
    folder = packaged_reader_dir()
    assert (folder / ADAPTER_FILE).stat().st_size <= 2 * 1024 * 1024
    adapter = Reader().adapter  # without loading the cross-encoder
    assert adapter is not None and adapter.dim == 384
    log = json.loads((folder / "adapter-log.json").read_text(encoding="utf-8"))
    assert log["digest"] == adapter.digest
    held = log["held_out"]  # measured on train articles it was not fitted on
    assert held["after"]["support_at_1"] > held["before"]["support_at_1"]


def test_an_adapter_made_for_vectors_of_another_size_is_a_clear_error(make_settings: Any) -> None:
    settings = make_settings(reader=True, model_name=FakeEmbedder.name)
    with pytest.raises(InvalidSettings, match="384-dimensional vectors") as err:
        KbotService.load(settings, FakeEmbedder(dim=16))
    assert "adapter.npz" in err.value.fix


def test_a_reader_folder_without_an_adapter_ranks_without_one(tmp_path: Path) -> None:
    for name in ("reader.json", "model.safetensors"):
        (tmp_path / name).write_bytes((packaged_reader_dir() / name).read_bytes())
    assert Reader(tmp_path).adapter is None


@pytest.mark.parametrize(
    ("use", "adapts"),
    [
        (ReaderUse(), True),
        (ReaderUse(weight=0.0), False),  # a library that turns the reader off turns its adapter off too
        (ReaderUse(weight=0.0, adapter=True), True),
        (ReaderUse(weight=1.0, adapter=False), False),
    ],
)
def test_a_librarys_kb_toml_decides_whether_it_is_ranked_with_the_adapter(use: ReaderUse, adapts: bool) -> None:
    assert use.adapts() is adapts


def test_retrieval_ranks_by_the_adapted_vector_and_abstention_reads_the_questions_own(
    fake_service: KbotService, fake_embedder: FakeEmbedder
) -> None:
    base = fake_service.kb()
    assert not base.profile.reader.adapts()  # seeds/kb.toml: weight 0, so the ketamine library is never adapted
    adapter = _random_adapter(dim=fake_embedder.dim, hidden=16)
    service = dataclasses.replace(fake_service, reader=Reader())
    service.reader.adapter = adapter  # type: ignore[union-attr]
    question = "is ketamine an opioid"
    _, plain = service.encode_questions([question], base)
    assert plain[0].ranking is None  # the library's kb.toml keeps it off
    adapted = dataclasses.replace(base, profile=base.profile.model_copy(update={"reader": ReaderUse(adapter=True)}))
    queries, encoded = service.with_knowledge_base(adapted).encode_questions([question, question], adapted)
    assert encoded[0].ranking is not None
    np.testing.assert_allclose(encoded[0].ranking, adapter(plain[0].vector)[0], atol=1e-6)
    np.testing.assert_array_equal(encoded[0].vector, plain[0].vector)
    retriever, views = base.retriever, base.index.views
    moved, own = retriever.features(queries[0], encoded[0]), retriever.features(queries[0], plain[0])
    np.testing.assert_array_equal(moved.ids, own.ids)  # the same candidates, proposed by the question's own vector
    ids = moved.ids
    np.testing.assert_allclose(moved.signals["context"], views["context"][ids] @ encoded[0].ranking, atol=1e-5)
    np.testing.assert_allclose(own.signals["context"], views["context"][ids] @ plain[0].vector, atol=1e-5)
    assert not np.allclose(moved.signals["sentence"], own.signals["sentence"])
    np.testing.assert_array_equal(moved.signals["any_view"], own.signals["any_view"])  # what abstention reads
    for name in ("coverage", "bm25", "tokens"):
        np.testing.assert_array_equal(moved.signals[name], own.signals[name])
    assert retriever.retrieve(queries[0], encoded[0]).top_dense == retriever.retrieve(queries[0], plain[0]).top_dense


def test_training_puts_the_positives_first_on_questions_it_was_not_fitted_on() -> None:
    from kbot.reader import adapting

    # Questions whose answering candidate sits a fixed turn away from the question: a map that one network can learn.
    rng = np.random.default_rng(0)
    n, top, dim = 600, 6, 16
    turn = np.linalg.qr(rng.normal(size=(dim, dim)))[0]
    q = unit_rows(rng.normal(size=(n, dim)))
    views = unit_rows(rng.normal(size=(n * top, dim))).reshape(n, top, dim)
    views[:, 0] = unit_rows(q @ turn)
    labels = np.zeros((n, top), dtype=np.float32)
    labels[:, 0] = 1
    data = {"q": q, "fixed": np.zeros((n, top)), "labels": labels, "held": np.arange(n) % 5 == 0}
    data |= {name: views for name in adapting.DENSE} | {"weights": np.array([0.6, 0.8, 0.8])}
    log: dict[str, object] = {}
    adapter = adapting.train(data, log)
    held = log["held_out"]
    assert isinstance(held, dict) and held["questions"] == 120
    # seed 0: 0.05 -> 0.28 at rank 1, 0.33 -> 0.76 in the first three (seeds 1 and 2: +0.18 and +0.17, +0.35 and +0.38)
    assert held["after"]["support_at_1"] > held["before"]["support_at_1"] + 0.1, held
    assert held["after"]["support_at_3"] > held["before"]["support_at_3"] + 0.25, held
    assert adapter.dim == dim and adapter.w1.shape == (dim, adapting.HIDDEN)


@pytest.mark.model
@pytest.mark.skipif(not (MEDQUAD / "documents.jsonl.gz").exists(), reason="needs ../shared/medquad")
def test_adapter_training_runs_end_to_end_on_a_few_train_articles(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from kbot.reader import adapting

    out = tmp_path / "reader"
    adapting.main([str(MEDQUAD), "--out", str(out), "--work", str(tmp_path / "work"), "--articles", "8"])
    log = json.loads((out / "adapter-log.json").read_text(encoding="utf-8"))
    assert log["articles"] == 8 and log["questions"] > 10
    assert len(log["steps"]) == adapting.EPOCHS and all(np.isfinite(s["loss"]) for s in log["steps"])
    assert log["held_out"]["questions"] + log["trained"]["questions"] == log["questions"]
    adapter = QueryAdapter.read(out / ADAPTER_FILE)
    assert adapter.digest == log["digest"] and adapter.dim == 384
    assert "wrote" in capsys.readouterr().out
