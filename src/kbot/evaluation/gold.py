"""The labelled question files (eval/gold.jsonl, eval/calibration.jsonl, eval/nih/*.jsonl) and the gate's thresholds
(the .toml next to each: eval/gold.toml).

A question file is JSON Lines: one object per line with ``id``, ``question``, ``kind``, ``evidence`` (verbatim
snippets of the seed articles that answer it), optional ``notes`` and an optional ``article`` (the file stem of the
article that answers it, for a set made for a library an evaluated knowledge base may hold only part of). Blank lines
are skipped. Every problem is reported as a ``GoldFileError`` (a ``KbotError``, so the CLI prints it plainly, and a
``ValueError``) that names the file and the line.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kbot.errors import KbotError

Kind = Literal["answerable", "out_of_scope", "crisis", "advice", "alarming_educational"]
KINDS: tuple[Kind, ...] = ("answerable", "out_of_scope", "crisis", "advice", "alarming_educational")
GRADED_KINDS: frozenset[str] = frozenset({"answerable", "alarming_educational"})
"""Kinds that are answered from the articles and so carry evidence; the others carry none."""


class GoldFileError(KbotError, ValueError):
    """A question file or thresholds file that cannot be used as it is."""


class LabelledQuestion(BaseModel):
    """A question of a labelled file: a unique id, the question as a patient wrote it."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)

    id: str = Field(min_length=1, pattern=r"^\S+$")
    question: str = Field(min_length=1, pattern=r"\S")


Item = TypeVar("Item", bound=LabelledQuestion)


class GoldItem(LabelledQuestion):
    """One labelled question of the gold or calibration set."""

    kind: Kind
    evidence: list[str] = Field(default_factory=list)
    article: str = ""  # the answering article's file stem, when the set is made for a library that may not hold it
    notes: str = ""

    @model_validator(mode="after")
    def _evidence_fits_kind(self) -> GoldItem:
        if self.kind in GRADED_KINDS and not self.evidence:
            raise ValueError(
                f"a {self.kind} item needs at least one evidence snippet copied verbatim from a seed article"
            )
        if self.kind not in GRADED_KINDS and self.evidence:
            raise ValueError(f"a {self.kind} item takes no evidence: give evidence: [] or move it to another kind")
        if any(not snippet.strip() for snippet in self.evidence):
            raise ValueError("evidence snippets must not be blank")
        return self


def _describe(error: ValidationError) -> str:
    parts = []
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"])
        parts.append(f"{where}: {e['msg']}" if where else e["msg"])
    return "; ".join(parts)


def _parse_line(path: Path, number: int, line: str, model: type[Item]) -> Item:
    where = f"{path}, line {number}"
    try:
        data = json.loads(line)
    except json.JSONDecodeError as e:
        raise GoldFileError(f"{where}: not valid JSON ({e.msg}). Each line must be one JSON object.") from e
    if not isinstance(data, dict):
        raise GoldFileError(f"{where}: expected a JSON object, found {type(data).__name__}.")
    try:
        return model.model_validate(data)
    except ValidationError as e:
        raise GoldFileError(f"{where}: {_describe(e)}") from e


def load_items(path: Path, model: type[Item]) -> list[Item]:
    """Read a JSON Lines file of ``model`` items, each with a unique ``id``; raise ``GoldFileError`` naming the line
    of the first problem."""
    items: list[Item] = []
    first_line: dict[str, int] = {}
    try:
        lines = path.read_text(encoding="utf-8").split("\n")  # as iterating the file would: only newlines split
    except OSError as e:
        raise GoldFileError(f"{path}: cannot be read ({e.strerror or e}).") from e
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        item = _parse_line(path, number, line, model)
        if item.id in first_line:
            raise GoldFileError(
                f"{path}, line {number}: duplicate id {item.id!r} (first used on line {first_line[item.id]})."
            )
        first_line[item.id] = number
        items.append(item)
    if not items:
        raise GoldFileError(f"{path}: no questions found; expected one JSON object per line.")
    return items


def load_gold(path: Path) -> list[GoldItem]:
    """Read a labelled question file; raise ``GoldFileError`` naming the line of the first problem."""
    return load_items(path, GoldItem)


class Thresholds(BaseModel):
    """The [thresholds] table of eval/gold.toml: what `kbot eval` must reach for its exit code to be zero."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    support_at_1: float = Field(ge=0, le=1)
    support_at_3: float = Field(ge=0, le=1)
    max_mean_quote_chars: float = Field(gt=0)
    faithfulness: float = Field(ge=0, le=1)
    notice_rate: float = Field(ge=0, le=1)
    max_promotional_leakage: float = Field(ge=0)
    crisis_recall: float = Field(ge=0, le=1)
    max_crisis_false_alarms: float = Field(ge=0)
    advice_declined: float = Field(ge=0, le=1)
    out_of_scope_abstained: float = Field(ge=0, le=1)
    answerable_answered: float = Field(ge=0, le=1)
    min_support_at_1_ratio_vs_baseline: float = Field(ge=0)
    min_reader_gain_support_at_1: float | None = Field(None, ge=-1, le=1)  # kbot's over its own without the reader
    # The gate alone on eval/safety_specialties.jsonl (questions of ten other specialties), when it is there
    specialty_crisis_recall: float | None = Field(None, ge=0, le=1)
    max_specialty_crisis_on_educational: float | None = Field(None, ge=0, le=1)
    specialty_advice_declined: float | None = Field(None, ge=0, le=1)
    max_specialty_educational_declined: float | None = Field(None, ge=0, le=1)


class QualityThresholds(BaseModel):
    """The [thresholds] (or [targets]) of a set of answerable questions only ([eval] safety = false): quality figures,
    and kbot's support@1 over the best baseline's."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    support_at_1: float | None = Field(None, ge=0, le=1)  # optional: the margin over the baselines is the goal
    support_at_3: float | None = Field(None, ge=0, le=1)
    faithfulness: float = Field(ge=0, le=1)
    notice_rate: float = Field(ge=0, le=1)
    answerable_answered: float = Field(ge=0, le=1)
    out_of_scope_abstained: float | None = Field(None, ge=0, le=1)  # when the set has off-topic questions too
    min_support_at_1_margin_vs_best_baseline: float = Field(ge=-1, le=1)
    min_reader_gain_support_at_1: float | None = Field(None, ge=-1, le=1)  # kbot's over its own without the reader


BaselineName = Literal["chunk", "section"]


class EvalConfig(BaseModel):
    """The optional [eval] table: which baselines run beside kbot, and whether the set measures safety too."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    baselines: list[BaselineName] = Field(default_factory=lambda: list[BaselineName](["chunk"]), min_length=1)
    safety: bool = True  # false: answerable questions only, no safety figures, the specialty set not run


def _read_table(path: Path, table: str) -> object:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8")).get(table)
    except OSError as e:
        raise GoldFileError(
            f"{path}: cannot be read ({e.strerror or e}); kbot eval reads it next to the questions."
        ) from e
    except tomllib.TOMLDecodeError as e:
        raise GoldFileError(f"{path}: not valid TOML ({e}).") from e


def _validate(path: Path, table: str, values: object) -> Thresholds | QualityThresholds:
    if not isinstance(values, dict):
        raise GoldFileError(f"{path}: expected a [{table}] table.")
    model = Thresholds if load_config(path).safety else QualityThresholds
    try:
        return model.model_validate(values)
    except ValidationError as e:
        raise GoldFileError(f"{path} [{table}]: {_describe(e)}") from e


def load_config(path: Path) -> EvalConfig:
    """Read the optional [eval] table (defaults when it is absent)."""
    values = _read_table(path, "eval")
    if values is not None and not isinstance(values, dict):
        raise GoldFileError(f"{path}: expected an [eval] table.")
    try:
        return EvalConfig.model_validate(values or {})
    except ValidationError as e:
        raise GoldFileError(f"{path} [eval]: {_describe(e)}") from e


def load_thresholds(path: Path) -> Thresholds | QualityThresholds:
    """Read the [thresholds] table (the gate); raise ``GoldFileError`` for bad TOML, a missing table, or a bad value."""
    return _validate(path, "thresholds", _read_table(path, "thresholds"))


def load_targets(path: Path) -> Thresholds | QualityThresholds | None:
    """Read the optional [targets] table: the goals the report compares against, without failing the run."""
    values = _read_table(path, "targets")
    return None if values is None else _validate(path, "targets", values)
