"""A knowledge base's own settings, its folder's ``kb.toml``: how it presents itself (title, intro, starter questions,
notice, help lines, contact), its own vocabulary, and how much it trusts the reader. Every field is optional."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from kbot.config import HelpLine
from kbot.errors import CatalogError
from kbot.folder import SETTINGS_FILE


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Contact(_Strict):
    """Where a patient reaches the clinic itself (for what articles cannot answer: appointments, opening hours)."""

    url: str = ""
    phone: str = ""
    text: str = ""


class Lexicon(_Strict):
    synonyms: dict[str, str] = Field(default_factory=dict)
    stopwords: list[str] = Field(default_factory=list)


class ReaderUse(_Strict):
    """kb.toml's [reader]: how much this library trusts the reader, when its own labelled questions show that the
    reader's defaults (reader.json, chosen on NIH articles) do not suit it. Unset: the reader's defaults."""

    weight: float | None = Field(None, ge=0, le=10)  # 0: retrieval's order, and no reader call for this library
    depth: int | None = Field(None, ge=1, le=100)
    # Rank candidates with the reader's question adapter (kbot.reader.adapter). Unset: where the weight is not 0.
    adapter: bool | None = None

    def adapts(self) -> bool:
        return self.adapter if self.adapter is not None else self.weight != 0


class Profile(_Strict):
    """kb.toml: how the knowledge base presents itself, and its own vocabulary. Every field is optional."""

    title: str = "Ask a question"
    intro: str = ""
    starters: list[str] = Field(default_factory=list)
    notice: str | None = None
    help_lines: list[HelpLine] | None = Field(None, min_length=1)
    contact: Contact = Field(default_factory=Contact)
    attribution: str = ""
    lexicon: Lexicon = Field(default_factory=Lexicon)
    reader: ReaderUse = Field(default_factory=ReaderUse)


def load_profile(folder: Path) -> Profile:
    """The knowledge base's kb.toml, checked; the defaults when it has none."""
    path = folder / SETTINGS_FILE
    if not path.is_file():
        return Profile()
    fix = f"correct {SETTINGS_FILE} (see Knowledge bases in the README)"
    try:
        return Profile.model_validate(tomllib.loads(path.read_text(encoding="utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CatalogError(f"{path} is not valid UTF-8 TOML: {exc}.", fix) from exc
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'file'}: {e['msg']}" for e in exc.errors())
        raise CatalogError(f"{path} has settings kbot cannot use: {problems}.", fix) from exc
