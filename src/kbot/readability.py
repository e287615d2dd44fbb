"""How hard a sentence is to read: the Flesch-Kincaid grade (US school grade), with a plain syllable estimate.

FK grade = 0.39 × words per sentence + 11.8 × syllables per word − 15.59. Syllables are counted as groups of vowels,
less a silent final "e"; good enough to tell a plain sentence from a dense one, which is all the ranking asks of it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)?")
_VOWELS = re.compile(r"[aeiouy]+")
_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)")


def syllables(word: str) -> int:
    w = word.lower().replace("’", "'").split("'")[0]
    count = len(_VOWELS.findall(w))
    if w.endswith("e") and not w.endswith(("le", "ee", "ye")) and count > 1:
        count -= 1
    return max(1, count)


@lru_cache(maxsize=1 << 15)  # quote selection grades 30 candidates an answer, the same sentences again and again
def fk_grade(text: str) -> float:
    """The Flesch-Kincaid grade of ``text`` (0.0 for text with no words)."""
    words = _WORD.findall(text)
    if not words:
        return 0.0
    sentences = max(1, len(_SENTENCE_END.findall(text)))
    per_word = sum(syllables(w) for w in words) / len(words)
    return 0.39 * len(words) / sentences + 11.8 * per_word - 15.59


def mean_grade(texts: Iterable[str]) -> float:
    grades = [fk_grade(t) for t in texts if t.strip()]
    return sum(grades) / len(grades) if grades else 0.0
