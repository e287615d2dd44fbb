"""Query normalisation (lay terms, typos, real words left alone) and the hybrid retriever over the fake index."""

from __future__ import annotations

import difflib
import random
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pytest

from kbot.embedding import Embedder, FakeEmbedder
from kbot.index import Index, load_index
from kbot.profile import load_profile
from kbot.retrieval import PIECE_POOL, QueryNormalizer, Retrieval, Retriever, Spellings

if TYPE_CHECKING:
    from kbot.service import KbotService


@pytest.fixture(scope="module")
def index(fake_index_dir: Path, seeds_dir: Path) -> Index:
    return load_index(fake_index_dir / "default", seeds_dir, FakeEmbedder.name)


@pytest.fixture(scope="module")
def retriever(index: Index, seeds_dir: Path) -> Retriever:
    lexicon = load_profile(seeds_dir).lexicon  # the knowledge base's own words, as KnowledgeBase.load passes them
    return Retriever(index, top_passages=8, synonyms=lexicon.synonyms)


@pytest.fixture(scope="module")
def normalizer(retriever: Retriever) -> QueryNormalizer:
    return retriever.normalizer


def _retrieve(retriever: Retriever, embedder: FakeEmbedder, question: str, limit: int = 30) -> Retrieval:
    query = retriever.normalizer.normalize(question)
    return retriever.retrieve(query, embedder.encode([query or question])[0], limit=limit)


# ------------------------------------------------------------------------------------------- normalisation


@pytest.mark.parametrize(
    ("question", "normalized"),
    [
        ("opiate", "opioid"),
        ("Is ketamine an opiate?", "is ketamine an opioid"),
        ("opiates", "opioids"),
        ("special k", "ketamine"),
        ("Is Special K an opiate?", "is ketamine an opioid"),
        ("ketamin is a opiod?", "ketamine is a opioid"),
        ("KETAMIN", "ketamine"),
        ("opiods", "opioids"),
        ("is ketamine a narcotic", "is ketamine a opioid"),
        ("depresion", "depression"),
        ("naltrexon", "naltrexone"),
        ("shouldnt i stop", "should not i stop"),
        ("isnt ketamine addicting", "is not ketamine addictive"),
        ("Ketamine’s effects", "ketamine's effects"),
        ("so is ketamine even an opiate", "is ketamine an opioid"),
        ("kinda confused what nmda is pls", "confused what nmda is"),
        ("ok thanks", "ok thanks"),  # only fillers: kept, there is nothing else to search for
    ],
)
def test_lay_terms_and_typos_map_onto_the_sources_words(
    normalizer: QueryNormalizer, question: str, normalized: str
) -> None:
    assert normalizer.normalize(question) == normalized


@pytest.mark.parametrize(
    "word",
    # Each is within difflib's reach of a corpus word ("part", "each", "diversion", "diving", "other"): only the
    # English dictionary keeps them as they are.
    ["party", "teach", "version", "driving", "mother"],
)
def test_real_english_words_are_not_corrected(normalizer: QueryNormalizer, word: str) -> None:
    assert normalizer.normalize(f"ketamine {word}") == f"ketamine {word}"


def test_contraction_without_apostrophe_is_expanded_not_corrected(normalizer: QueryNormalizer) -> None:
    normalized = normalizer.normalize("shouldnt")
    assert normalized == "should not"
    assert "not" in normalized.split()  # the negation survives: "should" alone would invert the question


def test_synonyms_are_whole_words_only(normalizer: QueryNormalizer) -> None:
    # "ket" maps to ketamine, but not inside "market" or "ticket".
    assert normalizer.normalize("ket market ticket") == "ketamine market ticket"


def test_normalizer_with_explicit_tables() -> None:
    n = QueryNormalizer({"ketamine", "opioid", "receptor"}, synonyms={"opiate": "opioid"}, dictionary=frozenset())
    assert n.normalize("Ketamne and the receptr, an opiate?") == "ketamine and the receptor an opioid"
    assert n.normalize("") == ""


def test_spellings_find_the_word_difflib_would_among_every_word() -> None:
    rng = random.Random(3)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = {"".join(rng.choices(letters[:8], k=rng.randint(4, 12))) for _ in range(3000)}
    words |= {"anæsthesia", "café-au-lait"}
    spellings = Spellings(words)
    asked = ["anaesthesia", "cafe-au-lait", "zzzzzz", "abcdefghijklmnop"]
    for word in rng.sample(sorted(words), 150):  # a letter dropped, added or changed
        at = rng.randrange(len(word))
        asked.append(rng.choice([word[:at] + word[at + 1 :], word[:at] + rng.choice(letters) + word[at:]]))
        asked.append(word[:at] + rng.choice(letters) + word[at + 1 :])
    every = sorted(words)
    expected = [(difflib.get_close_matches(w, every, n=1, cutoff=0.84) or [None])[0] for w in asked]
    assert [spellings.closest(w) for w in asked] == expected
    assert sum(e is not None for e in expected) > 200 and expected[:3] == ["anæsthesia", "café-au-lait", None]
    assert Spellings([]).closest("anything") is None


def test_fillers_are_dropped_before_typos_are_fixed() -> None:
    vocabulary = {"ketamine", "kind", "opioid"}
    assert QueryNormalizer(vocabulary, {}, frozenset(), fillers=frozenset()).normalize("kinda opioid") == "kind opioid"
    n = QueryNormalizer(vocabulary, {}, frozenset(), fillers=frozenset({"kinda"}))
    assert n.normalize("is ketamine kinda an opioid") == "is ketamine an opioid"


# ------------------------------------------------------------------------------------------- retrieval


QUESTIONS = [
    "Is ketamine an opioid?",
    "what does naltrexone do to ketamine",
    "ketamine zebra",
    "what are your parking fees",
    "",
    "?!",
]


@pytest.mark.parametrize("question", QUESTIONS)
def test_candidates_are_quotable_sorted_and_bounded(
    retriever: Retriever, fake_embedder: FakeEmbedder, index: Index, question: str
) -> None:
    found = _retrieve(retriever, fake_embedder, question, limit=12)
    assert 0 < len(found.candidates) <= 12
    assert all(c.row.quotable for c in found.candidates)
    scores = [c.score for c in found.candidates]
    assert scores == sorted(scores, reverse=True)
    assert len({c.row.id for c in found.candidates}) == len(found.candidates)
    assert all(0.0 <= c.lexical <= 1.0 and 0.0 <= c.coverage <= 1.0 + 1e-6 for c in found.candidates)
    assert found.coverage == found.candidates[0].coverage
    quotable_dense = [c.dense for c in found.candidates]
    assert found.top_dense >= max(quotable_dense) - 1e-6


def test_dense_signal_is_the_cosine_of_question_and_sentence(
    retriever: Retriever, fake_embedder: FakeEmbedder, index: Index
) -> None:
    found = _retrieve(retriever, fake_embedder, "Is ketamine an opioid?")
    query_vector = fake_embedder.embed([found.query])[0]
    for c in found.candidates:
        expected = float(fake_embedder.embed([c.row.text])[0] @ query_vector)
        assert c.dense == pytest.approx(expected, abs=1e-3)  # the index keeps its vectors in float16
    # top_dense, the abstention's signal, is the best cosine of any quotable sentence in any of its three views.
    views = [np.asarray(vectors) @ query_vector for vectors in index.views.values()]
    assert found.top_dense == pytest.approx(
        max(max(float(v[r.id]) for v in views) for r in index.sentences if r.quotable), abs=1e-5
    )


def test_best_candidate_answers_the_core_question(retriever: Retriever, fake_embedder: FakeEmbedder) -> None:
    found = _retrieve(retriever, fake_embedder, "Is ketamine an opioid?")
    best = found.candidates[0].row.text.lower()
    assert "ketamine" in best and "opioid" in best
    assert found.top_passage > 0.5
    assert found.coverage == pytest.approx(1.0)  # both words are in the best sentence


@pytest.mark.parametrize(
    ("question", "low", "high"),
    [
        ("ketamine opioid", 1.0, 1.0),
        ("ketamine zebra", 0.01, 0.5),  # a word the sources never use weighs more than one they use everywhere
        ("zebra xylophone", 0.0, 0.0),
        ("is it the", 0.0, 0.0),  # no content words at all
    ],
)
def test_coverage_is_the_share_of_the_questions_word_weight_in_the_best_sentence(
    retriever: Retriever, fake_embedder: FakeEmbedder, question: str, low: float, high: float
) -> None:
    found = _retrieve(retriever, fake_embedder, question)
    assert low - 1e-6 <= found.coverage <= high + 1e-6


def test_coverage_is_whole_for_a_sentence_asked_back_in_its_own_words(
    retriever: Retriever, fake_embedder: FakeEmbedder, index: Index
) -> None:
    row = next(r for r in index.sentences if r.quotable and len(r.text.split()) > 8)
    found = _retrieve(retriever, fake_embedder, row.text)
    assert found.candidates[0].row.id == row.id
    assert found.coverage == pytest.approx(1.0)


def _features(retriever: Retriever, embedder: Embedder, question: str) -> dict[str, np.ndarray]:
    """Each signal for every sentence of the index (0 for those that are not candidates)."""
    query = retriever.normalizer.normalize(question)
    features = retriever.features(query, embedder.encode([query])[0])
    every = {}
    for name, values in features.signals.items():
        every[name] = np.zeros(len(retriever.index.sentences), dtype=np.float32)
        every[name][features.ids] = values
    return every


@pytest.mark.parametrize("question", [*QUESTIONS[:4], "what are the side effects", "how long does it last"])
def test_candidates_from_faiss_rank_as_scoring_every_sentence_does(
    index: Index, retriever: Retriever, fake_embedder: FakeEmbedder, question: str
) -> None:
    """A large knowledge base scores only the candidates its FAISS indexes and lexical signals propose: on this one,
    made to work that way, the first quotes are those of scoring every sentence."""
    proposing = Retriever(
        index,
        synonyms=retriever.normalizer.synonyms,
        exact_up_to=0,
        per_signal=40,
    )
    exact, proposed = (_retrieve(r, fake_embedder, question, limit=5) for r in (retriever, proposing))
    assert len(proposing.features(exact.query, fake_embedder.encode([exact.query])[0]).ids) < len(index.sentences) / 2
    assert [c.row.id for c in proposed.candidates] == [c.row.id for c in exact.candidates]
    assert [c.score for c in proposed.candidates] == pytest.approx([c.score for c in exact.candidates], abs=1e-5)
    assert proposed.top_dense == pytest.approx(exact.top_dense, abs=1e-5)


def test_proposals_searched_for_several_questions_are_each_ones_own(
    index: Index, retriever: Retriever, fake_embedder: FakeEmbedder
) -> None:
    """KbotService.ask_batch searches FAISS once for its questions: each gets the features it gets alone."""
    proposing = Retriever(index, synonyms=retriever.normalizer.synonyms, exact_up_to=0, per_signal=40)
    queries = [proposing.normalizer.normalize(q) for q in QUESTIONS[:6]]
    encoded = fake_embedder.encode(queries)
    for query, enc, proposed in zip(queries, encoded, proposing.propose([e.vector for e in encoded]), strict=True):
        together, alone = proposing.features(query, enc, proposed), proposing.features(query, enc)
        np.testing.assert_array_equal(together.ids, alone.ids)
        assert together.signals.keys() == alone.signals.keys() and together.top_passage == alone.top_passage
        for name, values in together.signals.items():
            np.testing.assert_array_equal(values, alone.signals[name])


def test_tokens_signal_is_whole_where_every_content_word_is_found(
    retriever: Retriever, fake_embedder: FakeEmbedder, index: Index
) -> None:
    signal = _features(retriever, fake_embedder, "is ketamine an opioid")["tokens"]
    matched = signal > 0  # only sentences that some other signal ranks high are matched: a bounded cost
    assert 3 <= matched.sum() <= 3 * PIECE_POOL
    both = [r.id for r in index.sentences if {"ketamine", "opioid"} <= set(re.findall(r"[a-z]+", r.text.lower()))]
    both = [i for i in both if matched[i]]
    assert both and signal[both] == pytest.approx(1.0)  # the fake's pieces are words: a found word has cosine 1
    assert signal.max() <= 1.0 + 1e-6
    assert not _features(retriever, fake_embedder, "is it the")["tokens"].any()  # stopwords alone weigh nothing


def test_tokens_signal_matches_words_the_sentence_does_not_use(real_service: KbotService) -> None:
    """The real model's pieces in context: "anesthesia" finds "anesthetic", a word of another stem, where the
    lexical coverage sees nothing."""
    rows = real_service.kb().index.sentences
    features = _features(real_service.kb().retriever, real_service.embedder, "anesthesia")
    tokens, matched = features["tokens"], features["tokens"] > 0
    others = [r.id for r in rows if matched[r.id] and "anesthe" not in (r.section + r.text).lower()]
    variant = [r.id for r in rows if "anesthetic" in r.text and "anesthesia" not in r.section + r.text]
    assert len(variant) > 10 and not features["coverage"][variant].any()
    variant = [i for i in variant if matched[i]]
    assert len(variant) >= 5 and tokens[variant].min() > np.median(tokens[others]) + 0.3


def test_limit_caps_the_candidates(retriever: Retriever, fake_embedder: FakeEmbedder) -> None:
    assert len(_retrieve(retriever, fake_embedder, "ketamine", limit=3).candidates) == 3
    assert len(_retrieve(retriever, fake_embedder, "ketamine", limit=1000).candidates) == sum(
        r.quotable for r in retriever.index.sentences
    )
