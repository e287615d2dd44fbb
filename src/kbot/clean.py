"""Cleaning: which blocks of an article may be quoted to a patient, and which are page furniture or promotion.

Four passes, each adding to what the one before dropped (the phrase lists are data, in ``data/clean.toml``):

1. Line rules: a block that looks like furniture on its own (a caption, an audio player, a byline, a form, a phone
   number, a call to action...) is dropped with that rule's name. Two shapes are rules in code: alt text (a
   lowercase-initial line with no sentence punctuation) and decoration (a line with no letters or digits).
2. Tails: a heading such as "About the Author", "Related Topics" or "Leave a Reply" ends the article; everything
   from it on is furniture.
3. Promotional sections: a section (a heading and the blocks under it) whose blocks mostly carry promotion signals
   (the provider's own voice, "near you", "reach out", the publisher naming itself with an offer) is dropped whole,
   unless it holds a plain explanatory paragraph, so article prose survives a stray "our team".
4. A heading or FAQ question whose every block was dropped goes with them ("Interested in life sciences?" before a
   newsletter form), so it never becomes the section of the article prose that follows.

Inside the blocks that are kept, ``promotional_sentence`` finds the single sentences that advertise (a phone number,
a promo code); chunking withholds them from quotes, like a curator's ``do_not_quote``.

Deliberate choice: "At <the clinic>, <the treatment> is offered as ..." names the publisher with an offer, which is one
promotion signal, but it is kept (a sentence of this kind in seeds/001 decided it): it sits in an explanatory section
and tells a patient what a session involves (monitoring, no driving afterwards, induction and maintenance phases),
with no call to come in. The citation shows the reader that the clinic itself says it.
"""

from __future__ import annotations

import re
import tomllib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from importlib import resources

from kbot.domain import Block, BlockKind, Document, SourceMeta

HEADS = frozenset({BlockKind.TITLE, BlockKind.HEADING, BlockKind.FAQ_QUESTION})
ALT_TEXT = "image_caption"
DECORATION = "decoration"
PROMOTIONAL_SECTION = "promotional_section"
_SENTENCE_END = re.compile(r"[.!?:;,…]['\"”’)\]]*$")


@dataclass(frozen=True)
class LineRule:
    name: str
    patterns: tuple[re.Pattern[str], ...]
    max_words: int = 0  # 0: any length
    kinds: frozenset[BlockKind] = frozenset(BlockKind)

    def matches(self, block: Block) -> bool:
        if block.kind not in self.kinds or (self.max_words and _words(block.text) > self.max_words):
            return False
        return any(p.search(block.text) for p in self.patterns)


@dataclass(frozen=True)
class Rules:
    lines: tuple[LineRule, ...]
    tails: tuple[tuple[str, re.Pattern[str]], ...]
    promo_rules: frozenset[str]
    signals: tuple[re.Pattern[str], ...]
    publisher_words: re.Pattern[str]
    words_per_signal: int
    prose_words: int
    sentences: tuple[tuple[str, tuple[re.Pattern[str], ...]], ...]  # (rule name, its patterns and its line rule's)


@lru_cache(maxsize=1)
def rules() -> Rules:
    """The rules in data/clean.toml, compiled once (on first use, never at import)."""
    data = tomllib.loads(resources.files("kbot").joinpath("data/clean.toml").read_text(encoding="utf-8"))
    lines = tuple(
        LineRule(
            name=r["name"],
            patterns=_compile(r["patterns"]),
            max_words=r.get("max_words", 0),
            kinds=frozenset(BlockKind(k) for k in r.get("kinds", [k.value for k in BlockKind])),
        )
        for r in data["line"]
    )
    tails = tuple((name, p) for name, patterns in data["tail"].items() for p in _compile(patterns))
    promo = data["promotion"]
    return Rules(
        lines=lines,
        tails=tails,
        promo_rules=frozenset(promo["rules"]) | {PROMOTIONAL_SECTION},
        signals=_compile(promo["signals"]),
        publisher_words=re.compile(promo["publisher_words"], re.IGNORECASE),
        words_per_signal=promo["words_per_signal"],
        prose_words=promo["prose_words"],
        sentences=tuple(
            (name, _compile(patterns) + tuple(p for line in lines if line.name == name for p in line.patterns))
            for name, patterns in data["sentence"].items()
        ),
    )


def _compile(patterns: Sequence[str]) -> tuple[re.Pattern[str], ...]:
    return tuple(re.compile(p, re.IGNORECASE) for p in patterns)


def _words(text: str) -> int:
    return len(text.split())


# ------------------------------------------------------------------------------------------------------------ passes


def mark_furniture(blocks: list[Block], meta: SourceMeta) -> list[Block]:
    """The blocks with ``dropped`` set to the name of the rule that makes each one furniture ("" when kept)."""
    r = rules()
    dropped = [line_rule(b, r) for b in blocks]
    _mark_tail(blocks, dropped, r)
    _mark_empty_heads(blocks, dropped)
    _mark_promotional_sections(blocks, dropped, meta, r)
    return [replace(b, dropped=d) if d != b.dropped else b for b, d in zip(blocks, dropped, strict=True)]


def line_rule(block: Block, r: Rules | None = None) -> str:
    """The name of the first rule that makes this block furniture on its own, or ""."""
    r = r or rules()
    text = block.text
    if not any(c.isalnum() for c in text):
        return DECORATION
    for rule in r.lines:
        if rule.matches(block):
            return rule.name
    if _is_alt_text(block):
        return ALT_TEXT
    return ""


def promotional_sentence(text: str, r: Rules | None = None) -> str:
    """The name of the rule that makes a sentence an advertisement (a phone number, a promo code), or ""."""
    r = r or rules()
    return next((name for name, patterns in r.sentences if any(p.search(text) for p in patterns)), "")


def _is_alt_text(block: Block) -> bool:
    """Image alt text: "various bottles of drugs spilled on the counter ...", a lowercase line that is no sentence."""
    text = block.text
    return (
        block.kind in {BlockKind.PARAGRAPH, BlockKind.HEADING}
        and text[:1].islower()
        and _words(text) >= 3
        and not _SENTENCE_END.search(text)
        and "\n" not in text
    )


def _mark_tail(blocks: Sequence[Block], dropped: list[str], r: Rules) -> None:
    tail = ""
    for i, block in enumerate(blocks):
        tail = next((name for name, p in r.tails if p.fullmatch(block.text.strip())), tail)
        if tail and not dropped[i]:
            dropped[i] = tail


def _sections(blocks: Sequence[Block]) -> Iterator[tuple[int | None, list[int]]]:
    """(index of the section's heading or None, indices of the blocks under it), in order."""
    head: int | None = None
    body: list[int] = []
    for i, block in enumerate(blocks):
        if block.kind in HEADS:
            if head is not None or body:
                yield head, body
            head, body = i, []
        else:
            body.append(i)
    if head is not None or body:
        yield head, body


def signals(block: Block, meta: SourceMeta, r: Rules | None = None) -> int:
    """How many promotion signals a block carries (the provider's own voice, a pitch, the publisher with an offer)."""
    r = r or rules()
    text = block.text
    count = sum(1 for p in r.signals if p.search(text))
    names = {meta.publisher, meta.publisher.removeprefix("The ")}
    named = any(n and n.lower() in text.lower() for n in names)
    return count + (1 if named and r.publisher_words.search(text) else 0)


def is_promotional(block: Block, meta: SourceMeta, r: Rules | None = None) -> bool:
    """Whether a block's signals are dense enough to make it promotion rather than prose that mentions a clinic."""
    r = r or rules()
    n = signals(block, meta, r)
    return n > 0 and _words(block.text) <= n * r.words_per_signal


def _mark_promotional_sections(blocks: Sequence[Block], dropped: list[str], meta: SourceMeta, r: Rules) -> None:
    for head, body in _sections(blocks):
        units: list[bool] = []  # one per paragraph, and one per run of list items: does it carry a signal?
        prose = False
        for i in body:
            if dropped[i] and dropped[i] not in r.promo_rules:
                continue  # neutral furniture (a caption, a byline) says nothing either way
            signal = dropped[i] in r.promo_rules or is_promotional(blocks[i], meta, r)
            prose = prose or (not signal and _words(blocks[i].text) >= r.prose_words)
            continued = blocks[i].kind is BlockKind.LIST_ITEM and i > 0 and blocks[i - 1].kind is BlockKind.LIST_ITEM
            if continued and units:
                units[-1] = units[-1] or signal
            else:
                units.append(signal)
        if head is not None and (dropped[head] in r.promo_rules or is_promotional(blocks[head], meta, r)):
            units.append(True)  # a heading counts only for promotion: "Contact Us", "... near you?"
        if units and not prose and 2 * sum(units) >= len(units):
            heads = [head] if head is not None and blocks[head].kind is not BlockKind.TITLE else []
            for i in heads + body:
                dropped[i] = dropped[i] or PROMOTIONAL_SECTION


def _mark_empty_heads(blocks: Sequence[Block], dropped: list[str]) -> None:
    for head, body in _sections(blocks):
        if head is None or blocks[head].kind is BlockKind.TITLE or dropped[head] or not body:
            continue
        if all(dropped[i] for i in body):
            dropped[head] = Counter(dropped[i] for i in body).most_common(1)[0][0]


# ------------------------------------------------------------------------------------------------------------ explain


def explain(doc: Document) -> str:
    """A listing of every block of a document, KEPT or DROPPED(rule), to see what can be quoted."""
    counts = Counter(b.dropped for b in doc.blocks if b.dropped)
    by_rule = ", ".join(f"{rule} {n}" for rule, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
    per_block = Counter(s.block for s in doc.sentences)
    lines = [
        f"{doc.meta.file}: “{doc.meta.title}” — {doc.meta.publisher} ({doc.meta.kind})",
        f"{len(doc.blocks)} blocks: {len(doc.kept_blocks)} kept, {sum(counts.values())} dropped"
        + (f" ({by_rule})" if by_rule else "")
        + f"; {len(doc.sentences)} sentences",
        "",
        f"{'line':>5}  {'kind':<12}  {'status':<28}  text",
    ]
    shown = None  # the section last announced: each kept block is quoted under the section shown above it
    for b in doc.blocks:
        if b.kept and b.kind not in HEADS and b.section != shown:
            lines.append(f"{'':>5}  {'':<12}  {'':<28}  § {b.section or '(before the first heading)'}")
            shown = b.section
        status = f"KEPT ({per_block[b.index]} sent.)" if b.kept else f"DROPPED({b.dropped})"
        text = b.text.replace("\r", " ").replace("\n", " ")
        if not b.kept and len(text) > 100:
            text = text[:99] + "…"
        line = doc.text.count("\n", 0, b.start) + 1
        lines.append(f"{line:>5}  {b.kind.value:<12}  {status:<28}  {text}")
    return "\n".join(lines)
