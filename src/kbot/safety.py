"""The safety gate: before kbot retrieves anything, decide whether a message is a crisis, a request for personal
medical advice (declined), or ok to answer from the sources.

The behaviour lives in data (phrase banks, regular expressions, educational framings, personal anchors, advice acts,
spelling and texting fixes): ``kbot/data/safety.toml`` holds what is true of any health text, and a knowledge base may
add its own in ``<kb folder>/safety.toml`` (``kbot.safety_rules`` merges the two). This module is the small engine:

1. normalise the message (lowercase, ascii quotes, contractions and texting expanded, repeated letters squeezed,
   punctuation stripped), so the banks only ever see words separated by single spaces;
2. the first ``[crisis.*]`` bank that matches makes it "crisis", of the emergency the bank names (a bank marked
   ``unless_educational`` is skipped when an ``[educational]`` framing such as "what is" or "people who" is present);
3. ``[advice.direct]``, or an ``[advice.acts]`` match together with an ``[advice.anchors]`` match, makes it "advice"
   (first-person phrases in ``[advice.neutral]``, like "i read that" or "tell me", are cut out first);
4. anything else is "ok"; an "ok" message that names an emergency (``[emergency_topic]``: an overdose, someone not
   breathing, poisoning, suicide...) is flagged, so that its answer carries the help lines too.
Pure regular expressions: a classification takes microseconds. ``order_help_lines`` puts the help lines for a
crisis's emergency first.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal, Protocol, TypeVar

from kbot.domain import EMERGENCIES, Emergency
from kbot.errors import KbotError
from kbot.safety_rules import FIX as _FIX
from kbot.safety_rules import load_rules

try:  # CPython's regex parser, used only to find the needles of a pattern (see _needles)
    from re import _constants as _sc  # type: ignore[attr-defined]
    from re import _parser as _sre  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover
    _sc = _sre = None

Kind = Literal["crisis", "advice", "ok"]

_QUOTES = str.maketrans({"’": "'", "‘": "'", "‛": "'", "′": "'", "`": "'", "´": "'", "“": '"', "”": '"', "„": '"'})
_VAR = re.compile(r"\{([a-z_]+)\}")
_RUN = re.compile(r"([a-z])\1{2,}")  # three or more of one letter: "sooo", "pleeease"
_NON_WORD = re.compile(r"[^a-z0-9]+")
_DIGIT_EDGE = re.compile(r"(?<=\d)(?=[a-z])|(?<=[a-z])(?=\d)")  # "10mg" -> "10 mg"


@dataclass(frozen=True)
class Verdict:
    """What the gate decided. ``rule`` names the bank and the phrase or pattern that fired ("" when ok).
    ``emergency_topic`` is set on an "ok" message about an emergency ("what are the signs of an overdose"): not a
    crisis, but its reader may be facing one. ``emergency`` says which emergency a crisis is (its bank's), when the
    bank names one."""

    kind: Kind
    rule: str
    emergency_topic: bool = False
    emergency: Emergency | None = None


class _Entry:
    """One pattern, compiled, with a cheap test that must pass before it is run: the text contains one of the
    strings every match contains (a substring test for a few strings, a literal alternation for many)."""

    __slots__ = ("_few", "_many", "regex", "source")

    def __init__(self, source: str, regex: re.Pattern[str], needles: frozenset[str] | None) -> None:
        self.source = source  # as written in the TOML, for Verdict.rule
        self.regex = regex
        self._few = tuple(needles) if needles is not None and len(needles) <= 4 else None
        self._many = re.compile("|".join(map(re.escape, sorted(needles)))) if needles and len(needles) > 4 else None

    def could_match(self, text: str) -> bool:
        if self._few is not None:
            return any(map(text.__contains__, self._few))
        return self._many is None or self._many.search(text) is not None

    def search(self, text: str) -> bool:
        return self.could_match(text) and self.regex.search(text) is not None


@dataclass(frozen=True)
class _Bank:
    """One bank: its phrases as a single literal alternation, then its patterns in order."""

    name: str
    phrases: re.Pattern[str] | None
    entries: tuple[_Entry, ...]
    unless_educational: bool = False
    emergency: Emergency | None = None

    def find(self, text: str) -> str | None:
        if self.phrases and (m := self.phrases.search(text)):
            return f"{self.name}: {m.group()}"
        return next((f"{self.name}: {e.source}" for e in self.entries if e.search(text)), None)

    def cut(self, text: str) -> str:
        """``text`` with every match replaced by " . " (a gap no pattern spans)."""
        text = self.phrases.sub(" . ", text) if self.phrases else text
        for e in self.entries:
            if e.could_match(text):
                text = e.regex.sub(" . ", text)
        return text


@dataclass(frozen=True)
class _Normaliser:
    pre: tuple[tuple[_Entry, str], ...]
    words: Mapping[str, str]
    post: tuple[tuple[_Entry, str], ...]
    vocab: frozenset[str]

    def __call__(self, text: str) -> str:
        if not text.isascii():
            text = unicodedata.normalize("NFKD", text.translate(_QUOTES))
            text = "".join(c for c in text if unicodedata.category(c) not in ("Mn", "Cf"))
        text = text.lower()
        for rule, repl in self.pre:
            text = rule.regex.sub(repl, text) if rule.could_match(text) else text
        tokens = _NON_WORD.sub(" ", text.replace("'", "")).split()
        text = " ".join(self.words.get(t, t) for t in (self._squeeze(t) for t in tokens))
        text = _DIGIT_EDGE.sub(" ", text)
        for rule, repl in self.post:
            text = rule.regex.sub(repl, text) if rule.could_match(text) else text
        return " ".join(text.split())

    def _squeeze(self, token: str) -> str:
        """Shorten each run of 3+ letters to two or one, preferring a spelling the banks know ("sooo" -> "so")."""
        runs = list(_RUN.finditer(token))
        if not runs:
            return token
        if len(runs) > 4:  # keep the search small: 2**4 spellings at most
            return _RUN.sub(r"\1\1", token)
        first = ""
        for keep in itertools.product((2, 1), repeat=len(runs)):
            pieces, pos = [], 0
            for m, n in zip(runs, keep, strict=True):
                pieces += [token[pos : m.start()], m.group(1) * n]
                pos = m.end()
            candidate = "".join([*pieces, token[pos:]])
            if candidate in self.vocab or candidate in self.words:
                return candidate
            first = first or candidate
        return first


class SafetyGate:
    """Classifies a question as "crisis", "advice" or "ok". Build it once (``from_file``) and share it."""

    def __init__(self, config: Mapping[str, Any], origin: str = "safety.toml") -> None:
        variables = _expand_vars(dict(config.get("vars", {})), origin)
        norm = config.get("normalise", {})
        self._normalise = _Normaliser(
            pre=_rewrites(norm.get("pre", []), f"{origin} [normalise] pre"),
            words={str(k): str(v) for k, v in norm.get("words", {}).items()},
            post=_rewrites(norm.get("post", []), f"{origin} [normalise] post"),
            vocab=frozenset(_words_in(config)),
        )
        crisis = config.get("crisis", {})
        if not crisis:
            raise KbotError(f"{origin}: no [crisis.*] banks; at least one is needed.", fix=_FIX)
        self._crisis = tuple(_bank(f"crisis.{name}", spec, variables, origin) for name, spec in crisis.items())
        self._educational = _bank("educational", _require(config, "educational", origin), variables, origin)
        advice = _require(config, "advice", origin)
        self._direct = _bank("advice.direct", _require(advice, "direct", origin), variables, origin)
        self._acts = _bank("advice.acts", _require(advice, "acts", origin), variables, origin)
        self._anchors = _bank("advice.anchors", _require(advice, "anchors", origin), variables, origin)
        neutral = advice.get("neutral")
        self._neutral = _bank("advice.neutral", neutral, variables, origin) if neutral else None
        topic = config.get("emergency_topic")
        self._topic = _bank("emergency_topic", topic, variables, origin) if topic else None

    @classmethod
    def from_file(cls, extra: Path | None = None) -> SafetyGate:
        """The packaged rules (``kbot/data/safety.toml``), plus a knowledge base's additions in ``extra`` (its
        ``safety.toml``, see ``kbot.safety_rules``) when given."""
        config, origin = load_rules(extra)
        return cls(config, origin)

    def normalise(self, text: str) -> str:
        """The text the banks see: lowercase ascii words separated by single spaces."""
        return self._normalise(text)

    def classify(self, question: str) -> Verdict:
        text = self._normalise(question)
        if not text:
            return Verdict("ok", "")
        educational: bool | None = None  # computed only when a bank needs it
        for bank in self._crisis:
            if bank.unless_educational:
                if educational is None:
                    educational = self._educational.find(text) is not None
                if educational:
                    continue
            if hit := bank.find(text):
                return Verdict("crisis", hit, emergency=bank.emergency)
        personal = self._neutral.cut(text) if self._neutral else text
        if hit := self._direct.find(personal):
            return Verdict("advice", hit)
        if (act := self._acts.find(personal)) and (anchor := self._anchors.find(personal)):
            return Verdict("advice", f"{act} + {anchor}")
        return Verdict("ok", "", self._topic is not None and self._topic.find(text) is not None)


@cache
def default_gate() -> SafetyGate:
    """The gate built from the packaged rules alone, loaded once per process."""
    return SafetyGate.from_file()


class _HelpLine(Protocol):
    @property
    def topics(self) -> Sequence[str]: ...


L = TypeVar("L", bound=_HelpLine)


def order_help_lines(lines: Sequence[L], verdict: Verdict) -> list[L]:
    """Every help line, those for the verdict's emergency first (the most specific first: the one for the fewest
    emergencies), then the others in their configured order. A patient never loses a line; with no emergency, or no
    line for it, the order is the configured one."""
    if verdict.emergency is None:
        return list(lines)
    first = sorted((line for line in lines if verdict.emergency in line.topics), key=lambda line: len(line.topics))
    return first + [line for line in lines if verdict.emergency not in line.topics]


def _require(table: Mapping[str, Any], key: str, origin: str) -> Any:
    if key not in table:
        raise KbotError(f"{origin}: the [{key}] table is missing.", fix=_FIX)
    return table[key]


def _expand(pattern: str, variables: Mapping[str, str], where: str) -> str:
    def sub(m: re.Match[str]) -> str:
        if m.group(1) not in variables:
            raise KbotError(f"{where}: {{{m.group(1)}}} is not defined in [vars].", fix=_FIX)
        return variables[m.group(1)]

    return _VAR.sub(sub, pattern)


def _expand_vars(raw: dict[str, Any], origin: str) -> dict[str, str]:
    """Each var may use the vars defined above it."""
    done: dict[str, str] = {}
    for name, value in raw.items():
        done[name] = "(?:" + _expand(str(value), done, f"{origin} [vars] {name}") + ")"
    return done


def _compile(pattern: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern)
    except re.error as exc:
        raise KbotError(f"{where}: the pattern {pattern!r} does not compile ({exc}).", fix=_FIX) from exc


def _bank(name: str, spec: Mapping[str, Any], variables: Mapping[str, str], origin: str) -> _Bank:
    where = f"{origin} [{name}]"
    phrases = sorted((str(p) for p in spec.get("phrases", [])), key=len, reverse=True)
    patterns = [str(p) for p in spec.get("patterns", [])]
    if not phrases and not patterns:
        raise KbotError(f"{where} has no phrases or patterns.", fix=_FIX)
    literal = _words("|".join(re.escape(p) for p in phrases), where) if phrases else None
    entries = []
    for pattern in patterns:
        body = _expand(pattern, variables, where)
        entries.append(_Entry(pattern, _words(body, f"{where} {pattern!r}"), _needles(body)))
    return _Bank(name, literal, tuple(entries), bool(spec.get("unless_educational")), _emergency(spec, where))


def _emergency(spec: Mapping[str, Any], where: str) -> Emergency | None:
    value = spec.get("emergency")
    if value is None:
        return None
    if value not in EMERGENCIES:
        raise KbotError(f"{where}: emergency = {value!r} is not one of {', '.join(EMERGENCIES)}.", fix=_FIX)
    return value  # type: ignore[no-any-return]


def _words(body: str, where: str) -> re.Pattern[str]:
    """Compile ``body`` to match whole words only."""
    try:
        return re.compile(rf"(?<![a-z0-9])(?:{body})(?![a-z0-9])")
    except re.error as exc:
        raise KbotError(f"{where}: the pattern does not compile ({exc}).", fix=_FIX) from exc


def _needles(body: str) -> frozenset[str] | None:
    """Literal strings one of which every match of ``body`` contains, so most patterns are skipped by a substring
    test instead of being run (what keeps a classification in the tens of microseconds). None when not found."""
    try:
        parsed = _sre.parse(body)
    except Exception:  # the regex parser is CPython's own; without it every pattern is simply run
        return None
    return None if parsed.state.flags & re.IGNORECASE else _required(list(parsed))


def _required(items: list[Any]) -> frozenset[str] | None:
    best: frozenset[str] | None = None
    run: list[str] = []
    for op, av in [*items, (None, None)]:  # the sentinel flushes the last run of literals
        if op is _sc.LITERAL:
            run.append(chr(av))
            continue
        found: frozenset[str] | None = frozenset(["".join(run)]) if run else None
        run = []
        if op is _sc.SUBPATTERN and not av[1] & re.IGNORECASE:  # av: group, add_flags, del_flags, items
            found = _better(found, _required(list(av[-1])))
        elif op is _sc.BRANCH:
            parts = [_required(list(b)) for b in av[1]]
            found = _better(found, None if None in parts else frozenset().union(*parts))  # type: ignore[arg-type]
        elif op in (_sc.MAX_REPEAT, _sc.MIN_REPEAT) and av[0] >= 1:
            found = _better(found, _required(list(av[2])))
        best = _better(best, found)
    return best


def _better(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    """The cheaper useful test of two needle sets: strings of 3+ characters (rarer), then fewest strings."""
    if a is None or b is None:
        return a if b is None else b
    return max(a, b, key=lambda s: (min(min(map(len, s), default=0), 4), -len(s)))


def _rewrites(pairs: list[Any], where: str) -> tuple[tuple[_Entry, str], ...]:
    if any(not isinstance(p, list) or len(p) != 2 for p in pairs):
        raise KbotError(f"{where}: each rewrite must be a pair [pattern, replacement].", fix=_FIX)
    return tuple((_Entry(str(p), _compile(str(p), where), _needles(str(p))), str(r)) for p, r in pairs)


def _words_in(node: Any) -> Iterator[str]:
    """Every lowercase word written anywhere in the rules: the spellings the squeezer prefers."""
    if isinstance(node, str):
        yield from re.findall(r"[a-z]+", node)
    elif isinstance(node, Mapping):
        for key, value in node.items():
            yield from _words_in(key)
            yield from _words_in(value)
    elif isinstance(node, list):
        for item in node:
            yield from _words_in(item)
