"""kbot import: a saved web page becomes seeds/<stem>.md and its sources.toml entry, with trafilatura for real."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from kbot.catalog import load_catalog
from kbot.cli import _say_unread
from kbot.corpus import read_document
from kbot.domain import BlockKind, Status
from kbot.embedding import FakeEmbedder
from kbot.errors import KbotError
from kbot.folder import unread_files
from kbot.importing import import_page, plain_markdown, toml_string
from kbot.index import build_index
from kbot.service import KbotService
from test_cli import assert_friendly_failure, run

K = BlockKind
TITLE = "Is Ketamine an Opioid? What the Research Says"
SITE = "Harbor Health Review"
URL = "https://harbor-health.example/articles/ketamine-opioid"
PARAGRAPHS = (
    "Ketamine is not an opioid. It is classified as a dissociative anesthetic that acts mainly on the brain's "
    "glutamate system, not on the opioid receptors that drugs such as morphine target.",
    "Doctors have used ketamine in operating rooms since the 1970s, and in recent years it has been studied as a "
    "treatment for depression that has not responded to other medicines.",
    "Ketamine blocks NMDA receptors, which changes how glutamate signals are passed between nerve cells. This effect "
    "is thought to help the brain form new connections.",
    "Both ketamine and opioids can relieve pain, and a 2018 study suggested that ketamine's antidepressant effect may "
    "partly involve the opioid system. Scientists still do not consider ketamine an opioid drug.",
)
ITEMS = (
    "It acts within hours rather than weeks.",
    "It is given under medical supervision at controlled doses.",
    "Its effects on mood can last for days after a single session.",
)
HEADINGS = ("How ketamine works", "Why people confuse it with opioids")
FURNITURE = (
    "We use cookies to improve your experience",
    "Accept all cookies",
    "About us",
    "Book your free consultation today",
    "(555) 123-4567",
    "All rights reserved",
    "Privacy policy",
)
HEAD = f"""<meta property="og:site_name" content="{SITE}">
  <meta property="og:title" content="{TITLE}">
  <meta property="article:published_time" content="2023-05-02T09:00:00+00:00">
  <meta property="article:modified_time" content="2024-08-22T10:15:00+00:00">
  <link rel="canonical" href="{URL}">"""


def page_html(head: str = HEAD, h1: str = TITLE) -> str:
    """A clinic-blog page as a browser saves it: banner, header and nav, the article with an ad inside, a footer."""
    p = [f"<p>{text}</p>" for text in PARAGRAPHS]
    items = "".join(f"<li>{text}</li>" for text in ITEMS)
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Is Ketamine an Opioid? | {SITE}</title>
  {head}
</head>
<body>
  <div id="cookie-banner" class="cookie-consent">We use cookies to improve your experience.
    <button>Accept all cookies</button></div>
  <header class="site-header"><a href="/">{SITE}</a>
    <nav><ul><li><a href="/">Home</a></li><li><a href="/topics">Topics</a></li>
      <li><a href="/about">About us</a></li><li><a href="/contact">Contact</a></li></ul></nav>
  </header>
  <main>
    <article>
      <h1>{h1}</h1>
      {p[0]}
      {p[1]}
      <h2>{HEADINGS[0]}</h2>
      {p[2]}
      <ul>{items}</ul>
      <h2>{HEADINGS[1]}</h2>
      {p[3]}
      <aside class="ad">Book your free consultation today! Call (555) 123-4567</aside>
    </article>
  </main>
  <footer><p>© 2024 {SITE}. All rights reserved.</p>
    <p><a href="/privacy">Privacy policy</a> | <a href="/terms">Terms of use</a></p></footer>
</body>
</html>
"""


PROMO = """<html><head><title>Book your ketamine consultation</title></head>
<body><nav><a href="/">Home</a></nav><article><h1>Book your ketamine consultation</h1>
<p>Call us today at (555) 010-0100 to schedule your free consultation.</p>
<p>Contact us now to book your appointment.</p></article><footer>© 2024</footer></body></html>"""
CATALOG = '# One entry per article.\n\n["a.txt"]\ntitle = "A title"\npublisher = "A Publisher"\nkind = "editorial"\n'


@pytest.fixture
def seeds(tmp_path: Path) -> Path:
    folder = tmp_path / "seeds"
    folder.mkdir()
    (folder / "a.txt").write_text("A title\n\nSome prose about ketamine.\n", encoding="utf-8")
    (folder / "sources.toml").write_text(CATALOG, encoding="utf-8")
    return folder


def save(folder: Path, name: str, html: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(html, encoding="utf-8")
    return folder / name


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def entry(seeds: Path, name: str) -> dict[str, str]:
    with (seeds / "sources.toml").open("rb") as f:
        found: dict[str, str] = tomllib.load(f)[name]
    return found


# --------------------------------------------------------------------------------------------- the article


def test_the_article_is_written_as_markdown_without_the_page_furniture(seeds: Path, tmp_path: Path) -> None:
    import_page(save(tmp_path / "saved", "ketamine-opioid.html", page_html()), seeds)
    raw = (seeds / "ketamine-opioid.md").read_bytes()
    text = raw.decode("utf-8")
    assert text.startswith(f"# {TITLE}\n\n")
    assert text.endswith(".\n") and b"\r" not in raw
    assert text.count(f"# {TITLE}") == 1  # the page's <h1> is the title: not written twice
    for paragraph in PARAGRAPHS:
        assert f"\n{paragraph}\n" in text
    for item in ITEMS:
        assert f"\n- {item}\n" in text
    for heading in HEADINGS:
        assert f"\n## {heading}\n" in text
    for furniture in FURNITURE:
        assert furniture not in text


def test_kbot_reads_headings_list_items_and_paragraphs_as_such(seeds: Path, tmp_path: Path) -> None:
    imported = import_page(save(tmp_path, "ketamine-opioid.html", page_html()), seeds)
    meta = next(m for m in load_catalog(seeds) if m.id == "ketamine-opioid")
    assert meta == imported.meta
    doc = read_document(seeds, meta)
    kinds = {b.text: b.kind for b in doc.blocks}
    assert kinds[TITLE] is K.TITLE
    assert all(kinds[h] is K.HEADING for h in HEADINGS)
    assert all(kinds[i] is K.LIST_ITEM for i in ITEMS)
    assert all(kinds[p] is K.PARAGRAPH for p in PARAGRAPHS)
    assert all(b.kept for b in doc.blocks)
    assert next(b for b in doc.blocks if b.text == ITEMS[0]).section == HEADINGS[0]
    assert all(doc.text[s.start : s.end] == s.text for s in doc.sentences)
    assert "Ketamine is not an opioid." in {s.text for s in doc.sentences}
    assert imported.report().startswith(
        f"Imported ketamine-opioid.html as {seeds / 'ketamine-opioid.md'}: {len(doc.blocks)} of {len(doc.blocks)} "
        f"blocks kept, {len(doc.sentences)} sentences. Next: check its kind"
    )
    assert "kbot sources --show ketamine-opioid" in imported.report()


def test_inline_markup_is_dropped_and_literal_characters_kept(seeds: Path, tmp_path: Path) -> None:
    body = (
        "<p>Ketamine is a <strong>dissociative anesthetic</strong>, <em>not</em> an opioid<sup>1</sup>; "
        "see <a href='/x'>our guide</a> [2] on the NMDA_receptor, and 5 * 3 = 15 <code>mg_dose</code> &lt;b&gt;.</p>"
    )
    html = page_html().replace(f"<p>{PARAGRAPHS[1]}</p>", body)
    import_page(save(tmp_path, "marked.html", html), seeds)
    text = (seeds / "marked.md").read_text(encoding="utf-8")
    assert (
        "Ketamine is a dissociative anesthetic, not an opioid1; see our guide [2] on the NMDA_receptor, "
        "and 5 * 3 = 15 mg_dose <b>." in text.splitlines()
    )


@pytest.mark.parametrize(
    ("markdown", "plain"),
    [
        ("A **bold** and *italic* word", "A bold and italic word"),
        (
            "Escapes: 5 \\* 3, snake\\_case, \\[1\\], a \\\\ b, \\<tag>",
            "Escapes: 5 * 3, snake_case, [1], a \\ b, <tag>",
        ),
        ("`code_span` and ~~struck~~ and x<sup>2</sup>", "code_span and struck and x2"),
        ("# Title  \r\n\r\n\r\n\r\n- item \n", "# Title\n\n- item"),
    ],
)
def test_plain_markdown(markdown: str, plain: str) -> None:
    assert plain_markdown(markdown) == plain


# --------------------------------------------------------------------------------------------- the entry


def test_the_entry_is_appended_and_every_existing_byte_kept(seeds: Path, tmp_path: Path) -> None:
    before = (seeds / "sources.toml").read_bytes()
    import_page(save(tmp_path, "ketamine-opioid.html", page_html()), seeds)
    after = (seeds / "sources.toml").read_bytes()
    assert after.startswith(before + b"\n")
    assert entry(seeds, "ketamine-opioid.md") == {
        "title": TITLE,
        "publisher": SITE,  # og:site_name
        "url": URL,  # the canonical link
        "updated": "2024-08-22",  # article:modified_time, not the published date
        "kind": "editorial",
    }
    assert '\nkind = "editorial"  # change to "clinic_marketing" if' in after.decode("utf-8")
    assert [m.id for m in load_catalog(seeds)] == ["a", "ketamine-opioid"]


@pytest.mark.parametrize(
    ("before", "separator"),
    [(b"", b""), (b'["a.txt"]\ntitle = "A title"\npublisher = "P"', b"\n\n"), (CATALOG.encode(), b"\n")],
    ids=["empty", "no-final-newline", "final-newline"],
)
def test_the_entry_follows_the_file_as_it_was(seeds: Path, tmp_path: Path, before: bytes, separator: bytes) -> None:
    (seeds / "sources.toml").write_bytes(before)
    if not before:
        (seeds / "a.txt").unlink()
    import_page(save(tmp_path, "page.html", page_html()), seeds)
    after = (seeds / "sources.toml").read_bytes()
    assert after.startswith(before + separator + b'["page.md"]\n')
    assert len(load_catalog(seeds)) == (1 if not before else 2)


def test_a_missing_sources_toml_is_created_with_the_entry_alone(seeds: Path, tmp_path: Path) -> None:
    (seeds / "sources.toml").unlink()
    (seeds / "a.txt").unlink()
    import_page(save(tmp_path, "page.html", page_html()), seeds)
    assert (seeds / "sources.toml").read_text(encoding="utf-8").startswith('["page.md"]\ntitle = ')
    assert [m.file for m in load_catalog(seeds)] == ["page.md"]


def test_a_page_that_names_no_site_url_or_date_gets_empty_fields(seeds: Path, tmp_path: Path) -> None:
    # Left: only the <title>, and "a 2018 study" in the text and "© 2024" in the footer, which are no dates.
    imported = import_page(save(tmp_path, "bare.html", page_html(head="")), seeds)
    assert entry(seeds, "bare.md") == {"title": TITLE, "publisher": "", "url": "", "updated": "", "kind": "editorial"}
    assert f"fill in publisher in {seeds / 'sources.toml'}" in imported.report()
    assert "ingest refuses an empty publisher" in imported.report()
    with pytest.raises(KbotError, match="empty publisher"):
        load_catalog(seeds)


def test_the_url_host_is_not_taken_for_the_site_name(seeds: Path, tmp_path: Path) -> None:
    import_page(save(tmp_path, "hosted.html", page_html(head=f'<link rel="canonical" href="{URL}">')), seeds)
    assert (entry(seeds, "hosted.md")["publisher"], entry(seeds, "hosted.md")["url"]) == ("", URL)


def test_tricky_strings_round_trip_through_toml(seeds: Path, tmp_path: Path) -> None:
    title = 'The "K" word: C:\\ketamine \\u00e9 — naïve café, 日本語'
    site = 'Dr. Ana\'s "Mind" Clinic \\ Zürich'
    head = HEAD.replace(SITE, site.replace('"', "&quot;")).replace(TITLE, title.replace('"', "&quot;"))
    imported = import_page(save(tmp_path, "tricky.html", page_html(head=head, h1="Ketamine and opioids")), seeds)
    assert (entry(seeds, "tricky.md")["title"], entry(seeds, "tricky.md")["publisher"]) == (title, site)
    assert (seeds / "tricky.md").read_text(encoding="utf-8").startswith(f"# {title}\n\n# Ketamine and opioids\n")
    meta = next(m for m in load_catalog(seeds) if m.id == "tricky")
    assert (meta.title, meta.publisher) == (title, site) == (imported.meta.title, imported.meta.publisher)


@pytest.mark.parametrize("value", ['a "quoted" \\ back\\slash', "tab\there, bell\a, del\x7f, newline\n", "ünï — 日本"])
def test_toml_string_reads_back_as_written(value: str) -> None:
    assert tomllib.loads(f"key = {toml_string(value)}")["key"] == value


# --------------------------------------------------------------------------------------------- refusals


@pytest.mark.parametrize(
    ("listed", "with_file", "message"),
    [
        ("page.md", True, "page.md already exists"),
        ("page.txt", True, "page.txt already exists"),
        ("page.md", False, 'already has an entry ["page.md"]'),
        ("page.txt", False, 'already has an entry ["page.txt"]'),
    ],
    ids=["md", "txt", "entry", "entry-for-the-same-id"],
)
def test_nothing_is_overwritten(seeds: Path, tmp_path: Path, listed: str, with_file: bool, message: str) -> None:
    if with_file:
        (seeds / listed).write_text("# An article already here\n\nIts text.\n", encoding="utf-8")
    with (seeds / "sources.toml").open("a", encoding="utf-8") as f:
        f.write(f'\n["{listed}"]\ntitle = "T"\npublisher = "P"\n')
    before = snapshot(seeds)
    with pytest.raises(KbotError, match=re.escape(message)) as raised:
        import_page(save(tmp_path, "page.html", page_html()), seeds)
    assert "rename the page (e.g. to page-2.html)" in raised.value.fix
    assert snapshot(seeds) == before


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "report.html",
            b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nstream\n\x00\x01endstream",
            "not an HTML",
        ),
        ("notes.html", b"Ketamine is not an opioid.\nIt is an anesthetic.\n", "not an HTML"),
        ("shell.html", page_html().split("<main>")[0].encode() + b"</body></html>", "no article text"),
        ("promo.html", PROMO.encode(), "nothing kbot would quote"),
        ("missing.html", None, "cannot be read"),
    ],
    ids=["pdf", "plain-text", "no-article", "only-promotion", "missing"],
)
def test_a_page_that_cannot_be_imported_writes_nothing(
    seeds: Path, tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    page = tmp_path / name
    if content is not None:
        page.write_bytes(content)
    before = snapshot(seeds)
    with pytest.raises(KbotError, match=message):
        import_page(page, seeds)
    assert snapshot(seeds) == before


# --------------------------------------------------------------------------------------------- the html left in seeds/


def test_a_page_saved_inside_seeds_is_imported_and_still_named_as_unread(
    seeds: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = save(seeds, "page.html", page_html())
    imported = import_page(page, seeds)
    assert f"move page.html out of {seeds}" in imported.report()
    assert unread_files(seeds) == ["page.html"]  # expected: ingest still skips it, and says so
    (seeds / "notes.pdf").write_bytes(b"%PDF-1.7")
    _say_unread(seeds)
    err = capsys.readouterr().err
    assert (
        f"Skipped page.html: kbot reads articles from .txt and .md files only. To fix it: run kbot import {page}" in err
    )
    assert "Skipped notes.pdf" in err and "save the article's text as notes.txt" in err


# --------------------------------------------------------------------------------------------- the command


def test_kbot_import_imports_each_page_and_lists_it(seeds: Path, tmp_path: Path) -> None:
    first = save(tmp_path / "saved", "first.html", page_html())
    second = save(tmp_path / "saved", "second.html", page_html().replace(SITE, "Second Site"))
    result = run(tmp_path / "index", "import", str(first), str(second), "--seeds", str(seeds))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        f"Imported first.html as {seeds / 'first.md'}",
        f"Imported second.html as {seeds / 'second.md'}",
    ]
    assert all("`kbot ingest`" in line for line in lines)
    assert result.stderr == ""
    listed = run(tmp_path / "index", "sources", "--seeds", str(seeds))
    assert listed.returncode == 0, listed.stderr
    assert f"first  {SITE}: “{TITLE}” (editorial; " in listed.stdout
    assert f"second  Second Site: “{TITLE}”" in listed.stdout


def test_kbot_import_goes_on_after_a_failure_and_exits_2(seeds: Path, tmp_path: Path) -> None:
    bad = tmp_path / "notes.html"
    bad.write_text("Just some notes, no markup.\n", encoding="utf-8")
    taken = save(tmp_path, "a.html", page_html())  # seeds/ has a.txt
    good = save(tmp_path, "good.html", page_html(head=""))
    result = run(tmp_path / "index", "import", str(bad), str(taken), str(good), "--seeds", str(seeds))
    assert_friendly_failure(result)
    assert result.returncode == 2
    assert f"kbot: {bad} is not an HTML page." in result.stderr
    assert f"kbot: {seeds / 'a.txt'} already exists" in result.stderr
    assert "To fix it, run: rename the page (e.g. to a-2.html)" in result.stderr
    assert result.stdout.startswith(f"Imported good.html as {seeds / 'good.md'}")
    assert "fill in publisher" in result.stdout
    assert "kbot ingest will refuse" in result.stderr and 'entry ["good.md"] has an empty publisher' in result.stderr
    assert sorted(p.name for p in seeds.iterdir()) == ["a.txt", "good.md", "sources.toml"]


def test_kbot_import_of_only_failures_writes_nothing(seeds: Path, tmp_path: Path) -> None:
    before = snapshot(seeds)
    result = run(tmp_path / "index", "import", str(tmp_path / "nowhere.html"), "--seeds", str(seeds))
    assert_friendly_failure(result)
    assert result.returncode == 2
    assert "nowhere.html cannot be read" in result.stderr
    assert "kbot ingest will refuse" not in result.stderr
    assert snapshot(seeds) == before


# --------------------------------------------------------------------------------------------- end to end


def test_an_imported_page_is_indexed_and_quoted_as_a_span_of_its_md_file(
    seeds: Path, tmp_path: Path, make_settings: Any, fake_embedder: FakeEmbedder
) -> None:
    """import -> ingest -> ask: the quote comes from the new article, and is exactly a slice of the .md file."""
    import_page(save(tmp_path / "saved", "ketamine-opioid.html", page_html()), seeds)
    index_dir = tmp_path / "index"
    build_index(seeds, index_dir / "default", fake_embedder)
    settings = make_settings(seeds_dir=seeds, index_dir=index_dir, model_name=FakeEmbedder.name)
    answer = KbotService.load(settings, embedder=fake_embedder).ask("Does ketamine block NMDA receptors?")
    assert answer.status is Status.ANSWERED, answer.text
    quote = answer.quotes[0]
    assert quote.source_file == "ketamine-opioid.md"
    text = (seeds / quote.source_file).read_bytes().decode("utf-8")
    assert text[quote.start : quote.end] == quote.text
    assert "NMDA receptors" in quote.text
