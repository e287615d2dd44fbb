"""How kbot words what it shows besides quotes: questions taken from articles' headings, in sentence case."""

from __future__ import annotations

import re
from collections.abc import Iterable

_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


def lower_words(texts: Iterable[str]) -> frozenset[str]:
    """Every word the texts write in lower case somewhere (so "Addictive" may be lowered and "Stanford" may not)."""
    return frozenset(w for text in texts for w in _WORD.findall(text) if w.islower())


def is_title_case(text: str) -> bool:
    """Most of its words of four letters or more start with a capital: a heading in Title Case."""
    words = [w for w in _WORD.findall(text) if len(w) >= 4]
    return len(words) >= 2 and sum(w[0].isupper() for w in words[1:]) >= 0.6 * (len(words) - 1)


def sentence_case(text: str, lower: frozenset[str]) -> str:
    """A Title Case heading ("Is Asthma Serious?") in sentence case ("Is asthma serious?"): each word after
    the first is lowered when the articles write it in lower case elsewhere; names and acronyms stay as written."""
    if not is_title_case(text):
        return text
    first = True

    def fix(match: re.Match[str]) -> str:
        nonlocal first
        word = match.group(0)
        if first:
            first = False
            return word
        return word.lower() if word[0].isupper() and word[1:].islower() and word.lower() in lower else word

    return _WORD.sub(fix, text)
