"""The package is topic-neutral: nothing under src/kbot/ or web/ names a topic of a knowledge base that ships with
kbot. What belongs to one knowledge base (its title, starters, synonyms, safety additions) lives in its folder."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Topics of the knowledge base that ships in seeds/ (ketamine): its medicine, its brand names, its drug class and its
# street names. Another shipped knowledge base adds its own here.
SHIPPED_TOPICS = (
    "ketamine", "esketamine", "spravato", "ketalar", "opioid", "opiate", "nmda", "special k", "k hole", "k-hole",
    "khole", "horse tranq", "dissociative",
)  # fmt: skip
_TOPIC = re.compile(r"\b(" + "|".join(re.escape(t) for t in SHIPPED_TOPICS) + r")", re.IGNORECASE)
TEXT_SUFFIXES = {".py", ".toml", ".html", ".js", ".css", ".md", ".txt", ".json", ".svg"}


def package_files() -> list[Path]:
    files = [p for folder in ("src/kbot", "web") for p in sorted((ROOT / folder).rglob("*")) if p.is_file()]
    return [p for p in files if p.suffix in TEXT_SUFFIXES]


def test_the_package_has_files_to_check() -> None:
    names = {p.name for p in package_files()}
    assert {"service.py", "safety.toml", "lexicon.toml", "chat.html", "widget.js"} <= names


@pytest.mark.parametrize("path", package_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_no_package_file_names_a_topic_of_a_shipped_knowledge_base(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    found = [f"line {text.count(chr(10), 0, m.start()) + 1}: {m.group(0)!r}" for m in _TOPIC.finditer(text)]
    assert not found, f"{path.relative_to(ROOT)} names a knowledge base's topic (move it to the KB's folder): {found}"


def test_the_check_finds_a_topic_where_there_is_one() -> None:
    assert _TOPIC.search("Is Ketamine an opioid?") and _TOPIC.search("what is a K-hole")
    assert not _TOPIC.search("What are the side effects of this medicine?")
