"""Scrubbing a patient's text before it is stored: e-mail addresses, phone numbers, dates, street addresses and long
digit runs (record numbers, card numbers, zip codes) become placeholders such as ``[phone]``.

Only text a clinic opted in to keep passes through here (KBOT_STORE_QUESTIONS, feedback comments). The patterns err
on the side of removing too much: "[number]" in a question costs a curator nothing.
"""

from __future__ import annotations

import re

_MONTHS = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?"
    r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_STREET = (
    r"(?:street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|place|pl|way|terrace|circle|cir"
    r"|parkway|pkwy|highway|hwy|square|sq|trail|trl)\.?"
)

# (placeholder, pattern), applied in this order: an e-mail's digits are not a phone, a date's are not a number.
_RULES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("[email]", re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", re.IGNORECASE)),
    ("[date]", re.compile(r"\b\d{4}[-/.]\d{1,2}[-/.]\d{1,2}\b")),
    ("[date]", re.compile(r"\b\d{1,2}[-/.]\d{1,2}(?:[-/.]\d{2,4})?\b")),
    ("[date]", re.compile(rf"\b{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?(?:,?\s+\d{{4}})?\b", re.IGNORECASE)),
    ("[date]", re.compile(rf"\b\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}(?:,?\s+\d{{4}})?\b", re.IGNORECASE)),
    ("[phone]", re.compile(r"(?<![\w])\+?\(?\d[\d\s().-]{5,}\d\b")),
    ("[address]", re.compile(rf"\b\d{{1,6}}\s+(?:[A-Za-z][\w'-]*\s+){{1,4}}{_STREET}(?!\w)", re.IGNORECASE)),
    ("[number]", re.compile(r"\d{5,}")),
)


def scrub(text: str) -> str:
    """``text`` with personal details replaced by placeholders (see the module's docstring)."""
    for placeholder, pattern in _RULES:
        text = pattern.sub(placeholder, text)
    return text
