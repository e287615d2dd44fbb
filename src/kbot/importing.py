"""Importing a saved web page: its article as ``seeds/<stem>.md``, and its entry appended to ``seeds/sources.toml``.

trafilatura finds the article in the page (navigation, headers, footers, cookie banners, ads and comments are left
behind) and writes it as Markdown: ``#`` headings, ``- `` and ``1. `` list items, paragraphs a blank line apart. The
page's own metadata gives the entry's title, publisher (its site name), url and updated date; a field the page does not
give is left empty, never guessed.

kbot quotes the file's text as it stands, so the Markdown keeps only the markup ``kbot.corpus`` reads (headings and
list items): trafilatura's inline emphasis, code marks and ``<sup>``/``<sub>``/``<u>`` tags are dropped, and its
backslash escapes become the characters they stand for ("\\*" is "*").

Nothing is overwritten, and a page that cannot be imported leaves the seeds folder as it was.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import trafilatura

from kbot.catalog import is_iso_date, load_catalog, parse_catalog
from kbot.corpus import read_document
from kbot.domain import BlockKind, Document, SourceMeta
from kbot.errors import CatalogError, KbotError
from kbot.folder import ARTICLE_SUFFIXES, CATALOG_FILE

KIND_COMMENT = '# change to "clinic_marketing" if this is a treatment provider\'s own page'
RESAVE = "save the page again once its article has loaded, or copy the article's text into a .md file"
_HTML_TAG = re.compile(rb"<\s*(?:!doctype\s+html|html|head|body|article|main|div|p|h[1-6])\b", re.IGNORECASE)
# trafilatura escapes every literal markup character, so in its Markdown a backslash escape stands for that character,
# and an unescaped "*", "~~" or "`" is emphasis, strikethrough or a code span, and "<sup>" an inline HTML tag.
_INLINE_MARKUP = re.compile(r"\\([!-/:-@\[-`{-~])|(`+)(.+?)\2|\*+|~~|</?(?:sup|sub|u)>")
_URL_HOST = re.compile(r"https?://(?:www\.|w[0-9]+\.)?([^/]+)")  # trafilatura's site name when the page names none
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HEADS = (BlockKind.TITLE, BlockKind.HEADING)


@dataclass(frozen=True)
class Page:
    """What a saved web page gives: its article as Markdown, and its entry's fields ("" when the page has none)."""

    markdown: str
    title: str
    publisher: str
    url: str
    updated: str


@dataclass(frozen=True)
class Imported:
    """One page imported: the page, the article written from it, its entry, and the article as kbot reads it."""

    page: Path
    article: Path
    meta: SourceMeta
    document: Document

    def report(self) -> str:
        """One line for the curator: what was written, what kbot keeps of it, and what to do next."""
        seeds_dir, doc = self.article.parent, self.document
        steps = [
            f"fill in {key} in {seeds_dir / CATALOG_FILE} (the page gives none, and ingest refuses an empty {key})"
            for key in ("title", "publisher")
            if not getattr(self.meta, key)
        ]
        steps.append('check its kind ("editorial"; "clinic_marketing" for a treatment provider\'s own page)')
        steps.append(
            f"run `kbot sources --show {shlex.quote(self.meta.id)}` to see what can be quoted, then `kbot ingest`"
        )
        if self.page.resolve().parent == seeds_dir.resolve():
            steps.append(f"move {self.page.name} out of {seeds_dir} (ingest skips it)")
        return (
            f"Imported {self.page.name} as {self.article}: {len(doc.kept_blocks)} of {len(doc.blocks)} blocks kept, "
            f"{len(doc.sentences)} sentences. Next: {'; '.join(steps)}."
        )


def import_page(page: Path, seeds_dir: Path) -> Imported:
    """Write ``seeds_dir/<stem>.md`` from a saved web page, read it back as ingest will, and append its entry to
    sources.toml. Raises KbotError, with nothing written, when the page cannot be imported."""
    found = read_page(page)
    meta = SourceMeta(page.stem, f"{page.stem}.md", found.title, found.publisher, found.url, found.updated)
    _refuse_overwrite(seeds_dir, meta)
    article = seeds_dir / meta.file
    _write(article, "xb", article_text(found).encode("utf-8"))
    try:
        document = read_document(seeds_dir, meta)
        if not any(document.blocks[s.block].kind not in _HEADS for s in document.sentences):
            raise KbotError(
                f"{page} has nothing kbot would quote: cleaning drops all of its article but the headings "
                "(calls to action, contact details, page furniture).",
                "choose a page that explains the topic, or copy the text into a .md file if cleaning is wrong about it",
            )
        _append(seeds_dir / CATALOG_FILE, entry_text(meta))
    except BaseException:
        article.unlink()
        raise
    return Imported(page, article, meta, document)


def catalog_problem(seeds_dir: Path) -> str:
    """What ingest would refuse in the seeds folder as it now stands ("" when the catalog loads)."""
    try:
        load_catalog(seeds_dir)
    except CatalogError as exc:
        return str(exc)
    return ""


# ------------------------------------------------------------------------------------------------------------ the page


def read_page(path: Path) -> Page:
    """The article and metadata of a saved web page. Raises KbotError when it is not HTML or holds no article."""
    data = _read_bytes(path)
    tree = trafilatura.load_html(data) if b"\0" not in data and _HTML_TAG.search(data) else None
    if tree is None:
        raise KbotError(f"{path} is not an HTML page.", "give kbot import a web page saved as .html")
    # The last update (original_date=False) from the page's metadata and date elements: the extensive search would
    # take "a 2018 study" in the text or "© 2024" in the footer for a date.
    meta = trafilatura.extract_metadata(tree, date_config={"original_date": False, "extensive_search": False})
    # favor_precision: on a page with no article, trafilatura's default falls back to all of the page's text (its
    # menus, header and footer); and kbot quotes what it keeps, so a paragraph lost is better than furniture kept.
    markdown = trafilatura.extract(
        tree,
        output_format="markdown",
        favor_precision=True,
        include_comments=False,
        include_tables=False,
        include_images=False,
    )
    text = plain_markdown(markdown or "")
    if not text:
        raise KbotError(f"{path} has no article text that trafilatura could find.", RESAVE)
    url, publisher, updated = (meta.url or "").strip(), (meta.sitename or "").strip(), (meta.date or "").strip()
    host = _URL_HOST.match(url)
    return Page(
        markdown=text,
        title=" ".join((meta.title or "").split()),
        publisher="" if host and publisher == host[1] else publisher,
        url=url,
        updated=updated if is_iso_date(updated) else "",
    )


def _read_bytes(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:  # missing, a folder, no permission
        raise KbotError(f"{path} cannot be read ({exc.strerror}).", "give the path of a saved .html page") from exc


def plain_markdown(markdown: str) -> str:
    """trafilatura's Markdown as kbot reads it: inline markup dropped, escapes undone, "\\n" newlines, no trailing
    spaces, blocks one blank line apart."""
    lines = (_INLINE_MARKUP.sub(_plain, line).rstrip() for line in re.split(r"\r\n?|\n", markdown))
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip("\n")


def _plain(m: re.Match[str]) -> str:
    return m[1] or m[3] or ""  # an escaped character, a code span's text, or nothing for emphasis and tags


def article_text(page: Page) -> str:
    """The .md file's text: the title as a ``#`` heading first, unless the article starts with it; a final newline."""
    first = " ".join(page.markdown.split("\n", 1)[0].lstrip("#").split())
    if page.title and first.casefold() != page.title.casefold():
        return f"# {page.title}\n\n{page.markdown}\n"
    return f"{page.markdown}\n"


# ------------------------------------------------------------------------------------------------------------ the entry


def _refuse_overwrite(seeds_dir: Path, meta: SourceMeta) -> None:
    if not seeds_dir.is_dir():
        raise CatalogError(f"The seeds folder {seeds_dir} does not exist.", "create it, or give another with --seeds")
    fix = f"rename the page (e.g. to {meta.id}-2.html) and run kbot import again"
    taken = sorted(p.name for p in seeds_dir.iterdir() if p.stem == meta.id and p.suffix.lower() in ARTICLE_SUFFIXES)
    if taken:
        raise KbotError(f"{seeds_dir / taken[0]} already exists, and kbot import never overwrites an article.", fix)
    catalog = seeds_dir / CATALOG_FILE
    listed = sorted(name for name in parse_catalog(catalog) if Path(name).stem == meta.id) if catalog.is_file() else []
    if listed:
        raise KbotError(f'{catalog} already has an entry ["{listed[0]}"], for the id {meta.id!r}.', fix)


def entry_text(meta: SourceMeta) -> str:
    """The article's sources.toml entry: its table, then one field a line."""
    fields = [f"{key} = {toml_string(getattr(meta, key))}" for key in ("title", "publisher", "url", "updated")]
    return "\n".join([f"[{toml_string(meta.file)}]", *fields, f"kind = {toml_string(meta.kind)}  {KIND_COMMENT}\n"])


def toml_string(value: str) -> str:
    """A TOML basic string: backslashes and quotes escaped, control characters as \\uXXXX, the rest (UTF-8) as is."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + _CONTROL.sub(lambda m: f"\\u{ord(m[0]):04X}", escaped) + '"'


def _append(catalog: Path, entry: str) -> None:
    """Append the entry, a blank line after what is there, every byte of which stays as it was."""
    before = catalog.read_bytes() if catalog.is_file() else b""
    separator = b"" if not before else b"\n" if before.endswith(b"\n") else b"\n\n"
    _write(catalog, "ab", separator + entry.encode("utf-8"))


def _write(path: Path, mode: str, data: bytes) -> None:
    try:
        with path.open(mode) as f:
            f.write(data)
    except OSError as exc:
        raise KbotError(f"{path} cannot be written ({exc.strerror}).", "make the seeds folder writable") from exc
