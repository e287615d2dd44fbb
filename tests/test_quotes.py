"""Quote selection on hand-built sentence rows and vectors: twins folded, cryptic sentences extended, limits kept."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pytest

from kbot.chunking import SentenceRow
from kbot.domain import BlockKind, Document, SourceMeta
from kbot.quotes import QuoteSelector, Selection, quote_text
from kbot.retrieval import Candidate

LONG = "Ketamine is a dissociative anesthetic that works by blocking NMDA receptors in the brain."  # > 60 chars
DIM = 16


@dataclass(frozen=True)
class Spec:
    """One sentence: its source, its block within that source, and its text."""

    source: str
    block: int
    text: str


def build(specs: Sequence[Spec]) -> tuple[list[SentenceRow], dict[str, Document]]:
    """Rows numbered globally (as the index stores them) and the documents they point into.

    Sentences of one block are joined by a space, blocks by a blank line, so offsets are real offsets."""
    texts: dict[str, str] = {}
    last_block: dict[str, int] = {}
    rows: list[SentenceRow] = []
    for i, s in enumerate(specs):
        text = texts.get(s.source, "")
        if s.source in texts:
            text += " " if last_block[s.source] == s.block else "\n\n"
        start = len(text)
        texts[s.source] = text + s.text
        last_block[s.source] = s.block
        rows.append(
            SentenceRow(i, s.source, s.block, BlockKind.PARAGRAPH, "Section", start, start + len(s.text), s.text)
        )
    documents = {
        source: Document(SourceMeta(source, f"{source}.txt", f"Title {source}", f"Publisher {source}"), text, (), ())
        for source, text in texts.items()
    }
    return rows, documents


def vectors(n: int, same: Sequence[tuple[int, int]] = ()) -> np.ndarray:
    """One orthogonal unit vector per row; each (a, b) in ``same`` gives b the vector of a."""
    v = np.eye(max(n, DIM), DIM, dtype=np.float32)[:n].copy()
    for a, b in same:
        v[b] = v[a]
    return v


def candidates(rows: Sequence[SentenceRow], scored: Sequence[tuple[int, float]]) -> list[Candidate]:
    return [Candidate(rows[i], score, score, score, 0.0, 0.0) for i, score in scored]


def spans(selections: Sequence[Selection]) -> list[tuple[int, ...]]:
    return [tuple(r.id for r in s.sentences) for s in selections]


# ------------------------------------------------------------------------------------------- near-duplicates


def test_near_duplicate_from_another_source_folds_into_also_in() -> None:
    rows, _ = build([Spec("a", 0, LONG), Spec("b", 0, LONG), Spec("c", 0, LONG), Spec("a", 1, LONG + " Other.")])
    v = vectors(4, same=[(0, 1), (0, 2)])
    chosen = QuoteSelector().select(candidates(rows, [(0, 0.9), (1, 0.89), (2, 0.88), (3, 0.87)]), rows, v)
    assert spans(chosen) == [(0,), (3,)]
    assert chosen[0].also_in == ("b", "c")
    assert chosen[1].also_in == ()


def test_near_duplicate_from_the_same_source_is_dropped_without_also_in() -> None:
    rows, _ = build([Spec("a", 0, LONG), Spec("a", 3, LONG), Spec("b", 0, LONG + " More.")])
    chosen = QuoteSelector().select(candidates(rows, [(0, 0.9), (1, 0.89), (2, 0.88)]), rows, vectors(3, [(0, 1)]))
    assert spans(chosen) == [(0,), (2,)]
    assert all(s.also_in == () for s in chosen)


def test_the_same_twin_source_is_listed_once() -> None:
    rows, _ = build([Spec("a", 0, LONG), Spec("b", 0, LONG), Spec("b", 1, LONG + " Again.")])
    chosen = QuoteSelector().select(
        candidates(rows, [(0, 0.9), (1, 0.89), (2, 0.88)]), rows, vectors(3, [(0, 1), (0, 2)])
    )
    assert spans(chosen) == [(0,)]
    assert chosen[0].also_in == ("b",)


def test_sentences_below_the_duplicate_cosine_are_both_quoted() -> None:
    rows, _ = build([Spec("a", 0, LONG), Spec("b", 0, LONG)])
    v = np.zeros((2, DIM), dtype=np.float32)
    v[0, 0] = 1.0
    v[1, 0], v[1, 1] = 0.8, 0.6  # cosine 0.8 < 0.88
    chosen = QuoteSelector().select(candidates(rows, [(0, 0.9), (1, 0.89)]), rows, v)
    assert spans(chosen) == [(0,), (1,)]
    assert chosen[0].also_in == ()


# ------------------------------------------------------------------------------------------- extension


@pytest.mark.parametrize(
    "opening",
    [
        "However, it does not bind to opioid receptors the way opioids do at usual doses.",
        "This means that ketamine is not classified as an opioid by the DEA or by the FDA.",
        "It is, in fact, a dissociative anesthetic that operates distinctly from opioids.",
        "He is not convinced that the effect on the opioid system is the key to how it treats depression.",
        "“They found no sign of the same addiction potential as opioids in the small trial,” said the authors.",
    ],
)
def test_a_sentence_that_leans_back_takes_the_one_before_it(opening: str) -> None:
    rows, documents = build([Spec("a", 0, LONG), Spec("a", 0, opening), Spec("a", 0, LONG + " Then.")])
    (chosen,) = QuoteSelector().select(candidates(rows, [(1, 0.9)]), rows, vectors(3))
    assert spans([chosen]) == [(0, 1)]
    assert quote_text(chosen, documents) == f"{LONG} {opening}"


def test_a_pronoun_led_sentence_that_cannot_carry_its_referent_is_not_quoted_first() -> None:
    he = "He is not convinced that the effect on the opioid system is the key to how it treats depression."
    rows, documents = build([Spec("a", 0, "Professor Duman studies depression."), Spec("a", 1, he), Spec("b", 0, LONG)])
    chosen = QuoteSelector().select(candidates(rows, [(1, 0.9), (2, 0.85)]), rows, vectors(3))
    assert spans(chosen) == [(2,)], "the referent is in another block: the other answer opens the reply"
    assert quote_text(chosen[0], documents) == LONG


def test_only_pronoun_led_candidates_give_no_quote_at_all() -> None:
    rows, _ = build([Spec("a", 0, "They said it could not be the whole story, and that the trial was small.")])
    assert QuoteSelector().select(candidates(rows, [(0, 0.9)]), rows, vectors(1)) == []


def test_a_sentence_never_takes_a_pronoun_led_neighbour_in_front_of_it() -> None:
    he = "He is not convinced that the effect on the opioid system is the key to how it treats depression."
    rows, documents = build([Spec("a", 0, he), Spec("a", 0, LONG), Spec("a", 0, LONG + " After.")])
    (chosen,) = QuoteSelector(max_quotes=1).select(candidates(rows, [(1, 0.9), (0, 0.89)]), rows, vectors(3))
    assert not quote_text(chosen, documents).startswith("He ")
    assert spans([chosen]) == [(1,)]


def test_a_short_first_sentence_takes_the_one_after_it() -> None:
    rows, documents = build([Spec("a", 0, "Ketamine is not an opioid."), Spec("a", 0, LONG), Spec("a", 1, LONG)])
    (chosen,) = QuoteSelector().select(candidates(rows, [(0, 0.9)]), rows, vectors(3))
    assert spans([chosen]) == [(0, 1)]
    assert quote_text(chosen, documents) == f"Ketamine is not an opioid. {LONG}"


def test_a_short_sentence_after_another_takes_the_one_before_it() -> None:
    rows, _ = build([Spec("a", 0, LONG), Spec("a", 0, "Ketamine is not an opioid.")])
    (chosen,) = QuoteSelector().select(candidates(rows, [(1, 0.9)]), rows, vectors(2))
    assert spans([chosen]) == [(0, 1)]


@pytest.mark.parametrize(
    "specs",
    [
        # "However," opens its block: the sentence before belongs to another block.
        [
            Spec("a", 0, LONG),
            Spec("a", 1, "However, ketamine is pharmacologically distinct from opioids, says the DEA."),
            Spec("a", 2, LONG),
        ],
        # ...or to another source, even when the block numbers happen to be equal.
        [
            Spec("a", 0, LONG),
            Spec("b", 0, "However, ketamine is pharmacologically distinct from opioids, says the DEA."),
            Spec("c", 0, LONG),
        ],
        # A short sentence alone in its block, between blocks of the same source.
        [Spec("a", 0, LONG), Spec("a", 1, "Ketamine is not an opioid."), Spec("a", 2, LONG)],
        # A short sentence alone in its source, between other sources' sentences with the same block number.
        [Spec("a", 0, LONG), Spec("b", 0, "Ketamine is not an opioid."), Spec("c", 0, LONG)],
    ],
)
def test_extension_never_crosses_a_block_or_a_source(specs: list[Spec]) -> None:
    rows, _ = build(specs)
    (chosen,) = QuoteSelector().select(candidates(rows, [(1, 0.9)]), rows, vectors(3))
    assert spans([chosen]) == [(1,)]  # a connective alone ("However, X is ...") still says what it says


def test_extension_stops_at_max_chars() -> None:
    long_before = "Ketamine " + "is studied widely " * 10 + "in clinics."
    rows, _ = build([Spec("a", 0, long_before), Spec("a", 0, "However, it is not an opioid, says the DEA today.")])
    assert rows[1].end - rows[0].start > 120
    assert spans(QuoteSelector(max_chars=120).select(candidates(rows, [(1, 0.9)]), rows, vectors(2))) == [(1,)]
    assert spans(QuoteSelector(max_chars=400).select(candidates(rows, [(1, 0.9)]), rows, vectors(2))) == [(0, 1)]


def test_a_sentence_already_quoted_in_an_extension_is_not_quoted_again() -> None:
    rows, _ = build(
        [
            Spec("a", 0, LONG),
            Spec("a", 0, "However, it is not an opioid at all, in any way that matters."),
            Spec("b", 0, LONG + " Else."),
        ]
    )
    v = vectors(3)
    chosen = QuoteSelector().select(candidates(rows, [(1, 0.9), (0, 0.89), (2, 0.88)]), rows, v)
    assert spans(chosen) == [(0, 1), (2,)]


# ------------------------------------------------------------------------------------------- limits


@pytest.mark.parametrize("max_quotes", [1, 2, 3, 5])
def test_max_quotes_is_respected(max_quotes: int) -> None:
    rows, _ = build([Spec(f"s{i}", 0, f"{LONG} Number {i}.") for i in range(8)])
    chosen = QuoteSelector(max_quotes=max_quotes).select(
        candidates(rows, [(i, 0.9) for i in range(8)]), rows, vectors(8)
    )
    assert spans(chosen) == [(i,) for i in range(max_quotes)]


@pytest.mark.parametrize(
    ("scores", "floor", "kept"),
    [
        ([1.0, 0.9, 0.8], 0.85, 2),
        ([1.0, 0.86, 0.85], 0.85, 3),  # at the floor is kept
        ([1.0, 0.5, 0.45], 0.85, 1),
        ([0.6, 0.55, 0.5], 0.8, 3),
        ([0.6, 0.55, 0.5], 0.95, 1),
    ],
)
def test_relative_floor_drops_weak_candidates(scores: list[float], floor: float, kept: int) -> None:
    rows, _ = build([Spec(f"s{i}", 0, f"{LONG} Number {i}.") for i in range(3)])
    chosen = QuoteSelector(relative_floor=floor).select(candidates(rows, list(enumerate(scores))), rows, vectors(3))
    assert len(chosen) == kept
    assert [s.candidate.score for s in chosen] == scores[:kept]


def test_no_candidates_no_selection() -> None:
    rows, _ = build([Spec("a", 0, LONG)])
    assert QuoteSelector().select([], rows, vectors(1)) == []


def test_quote_text_is_the_exact_source_slice() -> None:
    rows, documents = build([Spec("a", 0, LONG), Spec("a", 0, "It is not an opioid."), Spec("b", 1, LONG)])
    for chosen in QuoteSelector().select(candidates(rows, [(1, 0.9), (2, 0.88)]), rows, vectors(3)):
        doc = documents[chosen.sentences[0].source_id]
        assert quote_text(chosen, documents) == doc.text[chosen.start : chosen.end]
        assert quote_text(chosen, documents).startswith(chosen.sentences[0].text)
        assert quote_text(chosen, documents).endswith(chosen.sentences[-1].text)


def test_build_helper_offsets_are_real() -> None:
    rows, documents = build([Spec("a", 0, "One."), Spec("a", 0, "Two."), Spec("a", 1, "Three."), Spec("b", 0, "Four.")])
    assert documents["a"].text == "One. Two.\n\nThree."
    assert all(documents[r.source_id].text[r.start : r.end] == r.text for r in rows)


# ------------------------------------------------------------------------------------------------ lists


def list_rows(
    lead: str = "Ketamine can cause adverse drug effects such as:",
) -> tuple[list[SentenceRow], dict[str, Document]]:
    """A paragraph ending in a lead-in, three list items right after it, then an unrelated paragraph."""
    specs = [Spec("a", 0, LONG), Spec("a", 0, lead), Spec("a", 1, "Dissociation"), Spec("a", 2, "Nausea")]
    specs += [Spec("a", 3, "Loss of coordination"), Spec("a", 4, LONG + " After the list.")]
    rows, documents = build(specs)
    items = {2, 3, 4}
    return [dataclasses.replace(r, kind=BlockKind.LIST_ITEM) if r.id in items else r for r in rows], documents


@pytest.mark.parametrize("chosen_row", [1, 2, 3, 4])  # the lead-in, or any item
def test_a_list_is_quoted_whole_with_its_lead_in(chosen_row: int) -> None:
    rows, documents = list_rows()
    chosen = QuoteSelector().select(candidates(rows, [(chosen_row, 0.9)]), rows, vectors(len(rows)))
    assert spans(chosen) == [(1, 2, 3, 4)]
    text = quote_text(chosen[0], documents)
    assert text == documents["a"].text[rows[1].start : rows[4].end]
    assert text.startswith("Ketamine can cause") and text.endswith("Loss of coordination")


def test_a_lead_in_without_a_list_after_it_is_never_quoted() -> None:
    rows, _ = build([Spec("a", 0, "These are the risks:"), Spec("b", 0, LONG)])
    chosen = QuoteSelector().select(candidates(rows, [(0, 0.9), (1, 0.8)]), rows, vectors(2))
    assert spans(chosen) == [(1,)]


def test_list_items_without_a_lead_in_are_quoted_alone() -> None:
    rows, _ = list_rows(lead="Ketamine has several effects on the body and the mind, which researchers study.")
    chosen = QuoteSelector().select(candidates(rows, [(3, 0.9)]), rows, vectors(len(rows)))
    assert spans(chosen) == [(3,)]


def test_a_list_too_long_for_one_quote_falls_back_to_its_item() -> None:
    rows, _ = list_rows()
    chosen = QuoteSelector(list_max_chars=40).select(candidates(rows, [(3, 0.9)]), rows, vectors(len(rows)))
    assert spans(chosen) == [(3,)]


def test_a_dropped_block_between_lead_in_and_items_breaks_the_list() -> None:
    """Block numbers that are not consecutive mean cleaning dropped something in between (an ad): never quote it."""
    rows, _ = list_rows()
    rows = [dataclasses.replace(r, block=r.block + 1) if r.id >= 2 else r for r in rows]
    chosen = QuoteSelector().select(candidates(rows, [(1, 0.95), (3, 0.9)]), rows, vectors(len(rows)))
    assert spans(chosen) == [(3,)]


# ------------------------------------------------------------------------------------------- withheld sentences


def withhold(rows: Sequence[SentenceRow], *ids: int) -> list[SentenceRow]:
    """The rows with ``ids`` withheld by a do_not_quote fragment, as chunking marks them."""
    return [dataclasses.replace(r, withheld=True) if r.id in ids else r for r in rows]


def select_quotable(rows: Sequence[SentenceRow], scored: Sequence[tuple[int, float]]) -> list[Selection]:
    """Selection from the candidates the retriever would give: never a withheld sentence."""
    allowed = [(i, score) for i, score in scored if rows[i].quotable]
    return QuoteSelector().select(candidates(rows, allowed), rows, vectors(len(rows)))


@pytest.mark.parametrize(
    ("specs", "scored", "withheld", "extended"),
    [
        pytest.param(
            [Spec("a", 0, LONG), Spec("a", 0, "However, it does not bind to opioid receptors the way opioids do.")],
            [(1, 0.9)],
            0,
            (0, 1),
            id="leans-back-takes-the-one-before",
        ),
        pytest.param(
            [Spec("a", 0, "Ketamine is not an opioid."), Spec("a", 0, LONG), Spec("a", 1, LONG)],
            [(0, 0.9)],
            1,
            (0, 1),
            id="short-first-takes-the-one-after",
        ),
        pytest.param(
            [Spec("a", 0, LONG), Spec("a", 0, LONG + " Also true."), Spec("b", 0, LONG + " Else.")],
            [(1, 0.9), (0, 0.85)],
            0,
            (0, 1),
            id="neighbour-that-answers-nearly-as-well",
        ),
    ],
)
def test_extension_never_pulls_in_a_withheld_neighbour(
    specs: list[Spec], scored: list[tuple[int, float]], withheld: int, extended: tuple[int, ...]
) -> None:
    rows, _ = build(specs)
    chosen = scored[0][0]
    assert spans(select_quotable(rows, scored)) == [extended]  # with nothing withheld, the neighbour is pulled in
    assert spans(select_quotable(withhold(rows, withheld), scored)) == [(chosen,)]


def test_a_list_with_a_withheld_item_is_quoted_only_up_to_it() -> None:
    rows, documents = list_rows()
    rows = withhold(rows, 3)  # "Nausea"
    by_lead_in = select_quotable(rows, [(1, 0.9)])
    assert spans(by_lead_in) == [(1, 2)]
    assert "Nausea" not in quote_text(by_lead_in[0], documents)
    assert spans(select_quotable(rows, [(4, 0.9)])) == [(4,)]  # the item after it is quoted alone


# ------------------------------------------------------------------------------------------- readability


def test_of_two_sentences_that_answer_about_equally_well_the_plainer_comes_first() -> None:
    dense = (
        "Ketamine antagonizes N-methyl-D-aspartate receptors, precipitating glutamatergic neurotransmission changes."
    )
    plain = "Ketamine is not an opioid, and it works in a different way from the way that opioids work."
    rows, _ = build([Spec("a", 0, dense), Spec("b", 0, plain)])
    scored = [(0, 3.50), (1, 3.49)]
    assert spans(QuoteSelector(readability_weight=0.0).select(candidates(rows, scored), rows, vectors(2))) == [
        (0,),
        (1,),
    ]
    assert spans(QuoteSelector(readability_weight=0.002).select(candidates(rows, scored), rows, vectors(2))) == [
        (1,),
        (0,),
    ]
    far = [(0, 3.50), (1, 3.30)]  # not about equally well: the better answer stays first
    assert spans(QuoteSelector(readability_weight=0.002).select(candidates(rows, far), rows, vectors(2)))[0] == (0,)
