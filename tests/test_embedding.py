"""The embedders' two verbs: ``embed`` (a vector per text) and ``encode`` (that vector and the word pieces' vectors)."""

from __future__ import annotations

import numpy as np
import pytest

from kbot.embedding import Embedder, FakeEmbedder

TEXTS = ["Is ketamine an opioid?", "Ketamine is a dissociative anesthetic, not an opioid.", "?!"]


def _check_contract(embedder: Embedder) -> None:
    encoded = embedder.encode(TEXTS)
    vectors = embedder.embed(TEXTS)
    assert len(encoded) == len(TEXTS)
    for enc, vector in zip(encoded, vectors, strict=True):
        np.testing.assert_allclose(enc.vector, vector, atol=1e-5)  # one model call gives the same text vector
        assert enc.piece_vectors.shape == (len(enc.pieces), embedder.dim)
        np.testing.assert_allclose(np.linalg.norm(enc.piece_vectors, axis=1), 1.0, atol=1e-5)
        assert all(any(c.isalnum() for c in piece) for piece in enc.pieces)
    assert encoded[2].pieces == ()  # punctuation alone has no pieces


def test_the_fake_encodes_each_word_as_a_piece() -> None:
    embedder = FakeEmbedder()
    _check_contract(embedder)
    assert embedder.encode(["Is ketamine an opioid?"])[0].pieces == ("is", "ketamine", "an", "opioid")


def test_the_real_model_encodes_word_pieces_in_context(real_embedder: Embedder) -> None:
    _check_contract(real_embedder)
    first, second = real_embedder.encode(TEXTS[:2])
    assert not {"[CLS]", "[SEP]", "[PAD]"} & set(first.pieces + second.pieces)
    assert "".join(first.pieces).replace("##", "") == "isketamineanopioid"  # every word, in order
    # The same piece in two sentences gets two vectors: they depend on the words around it.
    same = first.piece_vectors[first.pieces.index("op")] @ second.piece_vectors[second.pieces.index("op")]
    assert 0.3 < float(same) < 0.999


@pytest.mark.parametrize("count", [1, 70])  # one text, and more than one batch of 64
def test_encode_keeps_the_order_of_its_texts(real_embedder: Embedder, count: int) -> None:
    texts = [f"Question number {i} about ketamine" for i in range(count)]
    encoded = real_embedder.encode(texts)
    assert [e.pieces[:2] for e in encoded] == [("question", "number")] * count
    np.testing.assert_allclose(np.stack([e.vector for e in encoded]), real_embedder.embed(texts), atol=1e-5)


def test_bfloat16_gives_the_float32_vectors_within_a_cosine_of_0_9995(real_embedder: Embedder) -> None:
    """KBOT_BF16: autocast to bfloat16 keeps every vector and word piece where float32 puts it, so an index built one
    way serves questions embedded the other (and the setting is not part of an index's identity)."""
    from kbot.embedding import SentenceTransformerEmbedder, precision

    texts = [*TEXTS[:2], "The most common side effects are nausea, dizziness and a feeling of being detached."]
    wide = SentenceTransformerEmbedder(bf16=False).encode(texts)
    bf16 = SentenceTransformerEmbedder(bf16=True)
    narrow = bf16.encode(texts)
    for a, b in zip(wide, narrow, strict=True):
        assert a.pieces == b.pieces
        assert float(a.vector @ b.vector) > 0.9995
        assert float(np.min(np.sum(a.piece_vectors * b.piece_vectors, axis=1))) > 0.999
    # Its linear layers are cast to bfloat16 once, at load: the very vectors autocast gives a float32 model.
    from kbot.embedding import packaged_model

    autocast_only = SentenceTransformerEmbedder(model=packaged_model(), bf16=True).encode(texts)
    for a, b in zip(autocast_only, narrow, strict=True):
        assert np.array_equal(a.vector, b.vector) and np.array_equal(a.piece_vectors, b.piece_vectors)
    import torch

    linear = [m for m in bf16._model.modules() if isinstance(m, torch.nn.Linear)]
    assert linear and {p.dtype for m in linear for p in m.parameters()} == {torch.bfloat16}
    with precision(True):
        assert torch.is_autocast_enabled("cpu")
    with precision(False):
        assert not torch.is_autocast_enabled("cpu")


def test_one_batch_gives_what_sentence_transformers_encode_gives_bit_for_bit(real_embedder: Embedder) -> None:
    """A server's questions skip ``SentenceTransformer.encode`` (its per-call work) for the model's own pipeline: the
    same vectors and pieces, whatever the texts' lengths and order in the batch."""
    from typing import Any, cast

    from kbot.embedding import SentenceTransformerEmbedder, precision

    assert isinstance(real_embedder, SentenceTransformerEmbedder)
    texts = [TEXTS[1], "What is it?", TEXTS[0], "Can ketamine be taken at home, and who watches over the dose?"]
    with precision(real_embedder._bf16):
        library = cast("list[dict[str, Any]]", real_embedder._model.encode(texts, output_value=None))
    for mine, theirs in zip(real_embedder._one_batch(texts), library, strict=True):
        length = int(theirs["attention_mask"].sum())
        assert int(mine["attention_mask"].sum()) == length
        for name in ("input_ids", "token_embeddings"):
            assert mine[name][:length].equal(theirs[name][:length])
        assert mine["sentence_embedding"].equal(theirs["sentence_embedding"])
    assert "".join(real_embedder.encode(texts)[2].pieces).replace("##", "") == "isketamineanopioid"
    assert real_embedder.encode([]) == []
