"""Reading the safety rules: the packaged rules, true of any health text (``kbot/data/safety.toml``), plus what a
knowledge base adds in its own folder (``<kb>/safety.toml``: its medicine names, its own educational framings).

A knowledge base's file has the same tables as the packaged one, and each of them only adds:

- ``[vars]``: a name the packaged file defines gets the KB's value as one more alternative (``meds = 'xyz|abc'`` makes
  ``{meds}`` match those words too, everywhere it is used, including in the vars built from it); a new name is a new
  var, which may use any packaged var.
- ``[normalise]``: ``pre`` and ``post`` rewrites run after the packaged ones; ``[normalise.words]`` adds words (a word
  the packaged file already maps elsewhere is an error: a KB cannot change how "kms" is read).
- ``[crisis.NAME]``, ``[educational]``, ``[emergency_topic]``, ``[advice.direct]`` (``acts``, ``anchors``, ``neutral``):
  ``phrases`` and ``patterns`` are added to the bank of that name; a new ``[crisis.NAME]`` is a new bank, checked after
  the packaged ones (it may say ``unless_educational`` and ``emergency``; a packaged bank's cannot be changed).

Nothing can be removed: a KB can only widen what is caught, or add educational framings of its own topics.
"""

from __future__ import annotations

import copy
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from kbot.errors import KbotError
from kbot.folder import SAFETY_FILE as RULES_FILE

PACKAGED = "kbot/data/safety.toml"
FIX = f"Correct the rules file named above ({PACKAGED}, or the knowledge base's {RULES_FILE}), then start kbot again."

_TABLES = frozenset({"vars", "normalise", "crisis", "educational", "advice", "emergency_topic"})
_BANK_KEYS = frozenset({"phrases", "patterns", "unless_educational", "emergency"})
_ADVICE_BANKS = frozenset({"direct", "acts", "anchors", "neutral"})


def rules_in(folder: Path) -> Path | None:
    """The knowledge base's own additions to the safety rules (``<folder>/safety.toml``), or None when it has none."""
    path = folder / RULES_FILE
    return path if path.is_file() else None


def load_rules(extra: Path | None = None) -> tuple[dict[str, Any], str]:
    """The packaged rules, merged with ``extra`` when given; and a name for them in error messages."""
    base = _parse(resources.files("kbot").joinpath("data/safety.toml").read_text(encoding="utf-8"), PACKAGED)
    if extra is None:
        return base, PACKAGED
    try:
        text = Path(extra).read_text(encoding="utf-8")
    except OSError as exc:
        raise KbotError(
            f"Cannot read the safety rules at {extra}: {exc}",
            fix="Pass an existing TOML file, or none to use the packaged rules alone.",
        ) from exc
    return merge(base, _parse(text, str(extra)), str(extra)), f"{PACKAGED} + {extra}"


def merge(base: Mapping[str, Any], extra: Mapping[str, Any], origin: str) -> dict[str, Any]:
    """``base`` with ``extra``'s additions (see the module's docstring); neither is changed."""
    merged = copy.deepcopy(dict(base))
    if unknown := sorted(set(extra) - _TABLES):
        raise _error(origin, f"unknown table [{unknown[0]}]; expected only {', '.join(sorted(_TABLES))}")
    variables = merged.setdefault("vars", {})
    for name, value in _table(extra, "vars", origin).items():
        variables[name] = f"{variables[name]}|{value}" if name in variables else value
    _merge_normalise(merged.setdefault("normalise", {}), _table(extra, "normalise", origin), origin)
    for name, spec in _table(extra, "crisis", origin).items():
        _merge_bank(merged.setdefault("crisis", {}), name, spec, f"{origin} [crisis.{name}]", new_ok=True)
    for name in ("educational", "emergency_topic"):
        if name in extra:
            _merge_bank(merged, name, extra[name], f"{origin} [{name}]", new_ok=name not in merged)
    for name, spec in _table(extra, "advice", origin).items():
        if name not in _ADVICE_BANKS:
            raise _error(origin, f"unknown table [advice.{name}]; expected {', '.join(sorted(_ADVICE_BANKS))}")
        _merge_bank(merged.setdefault("advice", {}), name, spec, f"{origin} [advice.{name}]", new_ok=True)
    return merged


def _merge_normalise(into: dict[str, Any], extra: Mapping[str, Any], origin: str) -> None:
    if unknown := sorted(set(extra) - {"pre", "post", "words"}):
        raise _error(origin, f"unknown entry [normalise] {unknown[0]}; expected pre, post or [normalise.words]")
    for stage in ("pre", "post"):
        into[stage] = [*into.get(stage, []), *extra.get(stage, [])]
    words = into.setdefault("words", {})
    for word, normal in _table(extra, "words", f"{origin} [normalise]").items():
        if words.get(word, normal) != normal:
            raise _error(
                origin,
                f"[normalise.words] {word} = {normal!r}, but the packaged rules read it as "
                f"{words[word]!r}; a knowledge base can add words, not change them",
            )
        words[word] = normal


def _merge_bank(banks: dict[str, Any], name: str, spec: Any, where: str, new_ok: bool) -> None:
    if not isinstance(spec, Mapping):
        raise KbotError(f"{where}: expected a table with phrases and/or patterns.", fix=FIX)
    if unknown := sorted(set(spec) - _BANK_KEYS):
        raise KbotError(f"{where}: unknown key {unknown[0]!r}; expected {', '.join(sorted(_BANK_KEYS))}.", fix=FIX)
    if name not in banks:
        if not new_ok:
            raise KbotError(f"{where}: the packaged rules have no such bank to add to.", fix=FIX)
        banks[name] = dict(spec)
        return
    bank = banks[name]
    for key in ("unless_educational", "emergency"):
        if key in spec and spec[key] != bank.get(key):
            raise KbotError(f"{where}: {key} of a packaged bank cannot be changed; add a bank of your own.", fix=FIX)
    for key in ("phrases", "patterns"):
        bank[key] = [*bank.get(key, []), *spec.get(key, [])]


def _table(parent: Mapping[str, Any], key: str, origin: str) -> Mapping[str, Any]:
    value = parent.get(key, {})
    if not isinstance(value, Mapping):
        raise _error(origin, f"[{key}] must be a table")
    return value


def _parse(text: str, origin: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise KbotError(f"{origin} is not valid TOML: {exc}", fix=FIX) from exc


def _error(origin: str, what: str) -> KbotError:
    return KbotError(f"{origin}: {what}.", fix=FIX)
