"""The catalog: seeds/sources.toml, which says what each article in seeds/ is and who published it.

Every article file (.txt or .md) in seeds/ needs exactly one entry, keyed by its file name::

    ["000_d554ee0bf36446b0.txt"]
    title = "Understanding Asthma: Triggers, Symptoms and Treatment"
    publisher = "Lab Manager"
    url = ""
    updated = ""            # YYYY-MM-DD, or empty
    kind = "editorial"      # or "clinic_marketing"
    do_not_quote = []       # optional: fragments of the article's text

``do_not_quote`` lets the curator withhold a sentence that is accurate in its article but misleads when quoted alone,
without editing the text: every sentence that overlaps an occurrence of a fragment is never quoted, never extended
into a quote and never suggested. Each fragment must be copied exactly from the article (same spaces and punctuation).

Every problem found is reported at once, each with what to do about it.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path
from typing import Any

from kbot.domain import SourceMeta
from kbot.errors import CatalogError
from kbot.folder import CATALOG_FILE, article_files, is_article_name, read_source_text

KINDS = ("editorial", "clinic_marketing")
TEXT_FIELDS = ("title", "publisher", "url", "updated", "kind")
FIELDS = (*TEXT_FIELDS, "do_not_quote")
REQUIRED = ("title", "publisher")
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")

Problem = tuple[str, str]  # (what is wrong, how to fix it)


def load_catalog(seeds_dir: Path) -> list[SourceMeta]:
    """Read ``seeds_dir/sources.toml`` and check it against the article files; sorted by file name."""
    path = seeds_dir / CATALOG_FILE
    if not seeds_dir.is_dir():
        raise CatalogError(
            f"The knowledge base folder {seeds_dir} does not exist.",
            "create it, or correct KBOT_SEEDS_DIR (the default knowledge base) or KBOT_KNOWLEDGE_BASES",
        )
    if not path.is_file():
        raise CatalogError(
            f"{path} is missing: kbot needs it to know each article's title and publisher.",
            'create it with one table per article, e.g. ["article.txt"] with title = "..." and publisher = "..."',
        )
    entries = parse_catalog(path)
    problems: list[Problem] = []
    metas = [m for name, value in sorted(entries.items()) if (m := _entry(seeds_dir, name, value, problems))]
    problems += _unlisted(seeds_dir, entries)
    problems += _duplicate_ids(metas)
    if problems:
        raise _error(path, problems)
    return metas


def parse_catalog(path: Path) -> dict[str, Any]:
    """A sources.toml's entries by file name, unchecked; CatalogError when it is not valid UTF-8 TOML."""
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:  # the message names the line and column
        raise CatalogError(
            f"{path} is not valid TOML: {exc}.",
            'fix that line; each entry is a table like ["file.txt"] followed by lines such as title = "..."',
        ) from exc
    except UnicodeDecodeError as exc:
        raise CatalogError(f"{path} is not UTF-8 text ({exc}).", "save it as UTF-8") from exc


def _entry(seeds_dir: Path, name: str, value: Any, problems: list[Problem]) -> SourceMeta | None:
    """One entry checked; its problems appended. None when it cannot be used."""
    where = f'entry ["{name}"]'
    before = len(problems)
    if not isinstance(value, dict):
        problems.append((f"{where} is not a table.", f'write it as ["{name}"] on its own line, then its fields'))
        return None
    if not is_article_name(name):
        problems.append(
            (f"{where} does not name a .txt or .md file directly in the seeds folder.", "use the article's file name")
        )
    elif not (seeds_dir / name).is_file():
        problems.append(
            (f"{where} names a file that does not exist in {seeds_dir}.", "add the file or delete the entry")
        )
    for key in sorted(set(value) - set(FIELDS)):
        problems.append((f"{where} has an unknown field {key!r}.", f"use only {', '.join(FIELDS)}"))
    fields = {key: _text(value.get(key, ""), key, where, problems) for key in TEXT_FIELDS}
    for key in REQUIRED:
        if key in value and not fields[key].strip():
            problems.append(
                (f"{where} has an empty {key}.", f"give the article's {key} as the article itself names it")
            )
        elif key not in value:
            problems.append((f"{where} has no {key}.", f'add {key} = "..." as the article itself names it'))
    if fields["kind"] == "":
        fields["kind"] = "editorial"
    if fields["kind"] not in KINDS:
        problems.append((f"{where} has an unknown kind {fields['kind']!r}.", f"use one of: {', '.join(KINDS)}"))
    if fields["updated"] and not is_iso_date(fields["updated"]):
        problems.append(
            (
                f"{where} has updated = {fields['updated']!r}, which is not a date.",
                "write it as YYYY-MM-DD, or leave it empty",
            )
        )
    fragments = _fragments(value.get("do_not_quote", []), where, problems)
    if fragments and Path(name).name == name and (seeds_dir / name).is_file():
        _check_fragments(seeds_dir / name, fragments, where, problems)
    if len(problems) > before:
        return None
    return SourceMeta(
        id=Path(name).stem, file=name, **{k: v.strip() for k, v in fields.items()}, do_not_quote=fragments
    )


def _text(value: Any, key: str, where: str, problems: list[Problem]) -> str:
    if isinstance(value, str):
        return value
    if key == "updated" and isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()  # an unquoted TOML date
    problems.append((f"{where} has a {key} that is not text ({value!r}).", f'quote it: {key} = "..."'))
    return ""


def _fragments(value: Any, where: str, problems: list[Problem]) -> tuple[str, ...]:
    """``do_not_quote`` as a tuple of non-empty strings; its problems appended."""
    example = 'write it as do_not_quote = ["a fragment copied from the article", "another"]'
    if not isinstance(value, list):
        problems.append((f"{where} has a do_not_quote that is not a list ({value!r}).", example))
        return ()
    for i, item in enumerate(value, 1):
        if not isinstance(item, str) or not item.strip():
            problems.append(
                (f"{where} has do_not_quote item {i} = {item!r}, which is not a fragment of text.", example)
            )
    return tuple(item for item in value if isinstance(item, str) and item.strip())


def _check_fragments(path: Path, fragments: tuple[str, ...], where: str, problems: list[Problem]) -> None:
    """Each fragment must occur in the article's text, read as the corpus reads it (offsets count that text)."""
    try:
        text = read_source_text(path)
    except CatalogError as exc:
        problems.append((exc.message, exc.fix))
        return
    for fragment in fragments:
        if fragment not in text:
            problems.append(
                (
                    f"{where} has do_not_quote fragment {fragment!r}, which is not in the article's text.",
                    f"copy it exactly from {path.name} (same spaces, quotes and apostrophes), or remove it",
                )
            )


def is_iso_date(value: str) -> bool:
    """Whether ``value`` is a real date written YYYY-MM-DD."""
    if not _ISO_DATE.fullmatch(value):
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def _unlisted(seeds_dir: Path, entries: dict[str, Any]) -> list[Problem]:
    files = [p.name for p in article_files(seeds_dir)]
    return [
        (
            f"{name} is in {seeds_dir} but has no entry in {CATALOG_FILE}.",
            f'add ["{name}"] with its title, publisher and kind, or move the file out of the folder',
        )
        for name in files
        if name not in entries
    ]


def _duplicate_ids(metas: list[SourceMeta]) -> list[Problem]:
    seen: dict[str, str] = {}
    problems: list[Problem] = []
    for meta in metas:
        if meta.id in seen:
            problems.append(
                (f"{seen[meta.id]} and {meta.file} would share the id {meta.id!r}.", "rename one of the two files")
            )
        seen.setdefault(meta.id, meta.file)
    return problems


def _error(path: Path, problems: list[Problem]) -> CatalogError:
    if len(problems) == 1:
        what, fix = problems[0]
        return CatalogError(f"{path}: {what}", fix)
    lines = "\n".join(f"  - {what} To fix it: {fix}." for what, fix in problems)
    return CatalogError(
        f"{path} has {len(problems)} problems:\n{lines}", "fix each one above, then run the command again"
    )
