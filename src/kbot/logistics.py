"""Questions about the clinic's own arrangements (hours, appointments, prices, insurance, parking, how to reach it),
which no article answers: recognised by the packaged rules in ``data/logistics.toml``, named by no topic, and
answered with the knowledge base's contact ([contact] in its kb.toml)."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from kbot.domain import ClinicContact

_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'"})


@dataclass(frozen=True)
class LogisticsRules:
    patterns: tuple[re.Pattern[str], ...]

    @classmethod
    def packaged(cls) -> LogisticsRules:
        return _packaged()

    def matches(self, question: str) -> bool:
        text = " ".join(question.lower().translate(_APOSTROPHES).split())
        return any(p.search(text) for p in self.patterns)


@lru_cache(maxsize=1)
def _packaged() -> LogisticsRules:
    raw = tomllib.loads(resources.files("kbot").joinpath("data/logistics.toml").read_text(encoding="utf-8"))
    return LogisticsRules(tuple(re.compile(p) for p in raw["patterns"]))


def contact_message(contact: ClinicContact) -> str:
    """kbot's reply to a question about the clinic itself: the clinic's contact when it has one, in one sentence."""
    ways = [f"call {contact.phone}" if contact.phone else "", f"visit {contact.url}" if contact.url else ""]
    reach = " or ".join(w for w in ways if w)
    lead = "I can only quote articles, so I can't answer questions about the clinic itself, such as appointments, "
    lead += "opening hours, prices or insurance. "
    if reach:
        return lead + f"For those, please {reach}." + (f" {contact.text}" if contact.text else "")
    return lead + (contact.text or "For those, please contact the clinic directly.")
