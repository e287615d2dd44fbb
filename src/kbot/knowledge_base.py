"""A knowledge base: a folder of articles with its own settings and, once loaded, everything needed to answer from it
(its index, retriever, abstention thresholds and safety rules), held together as one value.

A knowledge base's folder holds its articles (``.txt``, ``.md``), ``sources.toml`` (what each article is),
``abstention.toml`` (its thresholds, from ``kbot calibrate``), ``kb.toml`` (its own settings: title, intro, starter
questions, lexicon additions, optionally help lines, notice and contact) and optionally ``safety.toml`` (its additions
to the safety rules). The checkout's ``seeds/`` is the knowledge base named ``default``; ``KBOT_KNOWLEDGE_BASES`` names
more. Adding a knowledge base is adding a folder, never editing the package.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kbot.answer import Abstention
from kbot.config import HelpLine, Settings
from kbot.domain import Document, Resource, SourceMeta
from kbot.errors import InvalidSettings, UnknownKnowledgeBase
from kbot.folder import CALIBRATION_FILE
from kbot.index import Index, kb_index_dir, load_index
from kbot.profile import Profile, load_profile
from kbot.reader import reader_id
from kbot.retrieval import Retriever
from kbot.safety import SafetyGate, Verdict, order_help_lines
from kbot.safety_rules import rules_in

DEFAULT_KB = "default"
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"  # a knowledge base's name: also the API's check of "kb" and ?kb=
_NAME = re.compile(NAME_PATTERN)
# Used only when a knowledge base has no abstention.toml: what `kbot calibrate` chose for the first knowledge base
# before word pieces joined retrieval. A starting point, not a calibration: run `kbot calibrate --kb NAME`.
DEFAULT_ABSTENTION = Abstention(min_dense=0.68, min_coverage=0.53, min_dense_with_coverage=0.25)


def configured(settings: Settings) -> dict[str, Path]:
    """Every configured knowledge base's folder by name: ``default`` (KBOT_SEEDS_DIR) and KBOT_KNOWLEDGE_BASES."""
    folders = {DEFAULT_KB: settings.seeds_dir, **settings.knowledge_bases}
    bad = [name for name in folders if not _NAME.match(name)]
    if bad:
        raise InvalidSettings(
            f"KBOT_KNOWLEDGE_BASES: {', '.join(map(repr, bad))} is not a usable name. Use lower-case letters, digits, "
            "'-' and '_' (at most 40), starting with a letter or digit."
        )
    return {name: Path(folder) for name, folder in folders.items()}


def folder_of(settings: Settings, name: str) -> Path:
    folders = configured(settings)
    if name not in folders:
        raise UnknownKnowledgeBase(
            f"There is no knowledge base named {name!r}; the configured ones are {', '.join(sorted(folders))}.",
            "name one of those, or add it to KBOT_KNOWLEDGE_BASES",
        )
    return folders[name]


def as_resources(lines: Iterable[HelpLine]) -> tuple[Resource, ...]:
    """Help lines as an answer carries them."""
    return tuple(Resource(h.name, h.action, h.phone, h.sms) for h in lines)


def load_abstention(folder: Path, settings: Settings) -> Abstention:
    """Thresholds from settings if set, else from the folder's abstention.toml (kbot calibrate), else defaults."""
    path = folder / CALIBRATION_FILE
    found = tomllib.loads(path.read_text(encoding="utf-8")).get("thresholds", {}) if path.is_file() else {}

    def pick(setting: float | None, name: str) -> float:
        return setting if setting is not None else float(found.get(name, getattr(DEFAULT_ABSTENTION, name)))

    return Abstention(
        min_dense=pick(settings.min_dense_score, "min_dense"),
        min_coverage=pick(settings.min_coverage, "min_coverage"),
        min_dense_with_coverage=pick(settings.min_coverage_dense, "min_dense_with_coverage"),
    )


@dataclass(frozen=True)
class KnowledgeBase:
    """One loaded knowledge base: everything that answers from its articles, and how it presents itself."""

    name: str
    folder: Path
    profile: Profile
    index: Index
    retriever: Retriever
    abstention: Abstention
    safety: SafetyGate
    lines: tuple[HelpLine, ...]  # its help lines: its own, else the deployment's (KBOT_HELP_LINES)
    notice: str

    @classmethod
    def load(cls, name: str, folder: Path, settings: Settings, model_name: str) -> KnowledgeBase:
        profile = load_profile(folder)
        index = load_index(kb_index_dir(settings.index_dir, name), folder, model_name, reader_id(settings))
        return cls(
            name=name,
            folder=folder,
            profile=profile,
            index=index,
            retriever=Retriever(index, settings.top_passages, synonyms=profile.lexicon.synonyms),
            abstention=load_abstention(folder, settings),
            safety=SafetyGate.from_file(rules_in(folder)),
            lines=tuple(profile.help_lines or settings.help_lines),
            notice=profile.notice or settings.notice,
        )

    @property
    def resources(self) -> tuple[Resource, ...]:
        """Its help lines in their configured order (beside an answer about an emergency)."""
        return as_resources(self.lines)

    def help_lines(self, verdict: Verdict) -> tuple[Resource, ...]:
        """Every help line, those for the verdict's emergency first (a crisis reply)."""
        return as_resources(order_help_lines(self.lines, verdict))

    @property
    def build(self) -> str:
        return self.index.build

    def sources(self) -> list[SourceMeta]:
        return [d.meta for d in self.index.documents.values()]

    def document(self, source_id: str) -> Document | None:
        return self.index.documents.get(source_id)
