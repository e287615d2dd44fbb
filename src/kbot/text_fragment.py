"""Links into the article: a quote's source URL with a text fragment (``#:~:text=start,end``) that makes the browser
scroll to the quoted words and highlight them.

The directive follows the WICG "URL Fragment Text Directives" spec: ``textStart`` and ``textEnd`` are percent-encoded,
``-``, ``,`` and ``&`` included (they are the directive's own syntax); a short quote is its own ``textStart``; a long
one is named by its first and last few words, so the link stays short and still matches when the page wraps, styles
or splits the quote across elements. The words are the quote's own, as the page shows them: the source file may be
Markdown, so inline markup (emphasis, code, a link's target) is dropped before the words are taken.

A browser that does not support text fragments, or a page whose text changed, simply opens the page at its top.
"""

from __future__ import annotations

import re
from urllib.parse import quote, urlsplit

EDGE_WORDS = 5  # the words a long quote's textStart and textEnd each hold
WHOLE_QUOTE_WORDS = 2 * EDGE_WORDS  # a quote of at most this many words is matched whole
_MARKDOWN_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")  # [text](target) -> text
_MARKUP = re.compile(r"(?<!\w)[*_`]+|[*_`]+(?!\w)")  # emphasis and code markers at a word's edge, not snake_case


def page_words(quote_text: str) -> list[str]:
    """The quote's words as a browser shows them: inline Markdown dropped, whitespace runs collapsed."""
    text = _MARKUP.sub("", _MARKDOWN_LINK.sub(r"\1", quote_text))
    return text.split()


def encode_term(term: str) -> str:
    """A textStart, textEnd, prefix or suffix, percent-encoded for a text directive: every character but the
    unreserved letters, digits, ``.``, ``_`` and ``~``; ``-`` too, since it marks a prefix or suffix."""
    return quote(term, safe="").replace("-", "%2D")


def text_directive(quote_text: str) -> str:
    """``text=start[,end]`` for the quote, or "" when it has no words."""
    words = page_words(quote_text)
    if not words:
        return ""
    if len(words) <= WHOLE_QUOTE_WORDS:
        return "text=" + encode_term(" ".join(words))
    start, end = " ".join(words[:EDGE_WORDS]), " ".join(words[-EDGE_WORDS:])
    return f"text={encode_term(start)},{encode_term(end)}"


def article_link(url: str, quote_text: str) -> str:
    """The source's ``url`` with a text fragment for ``quote_text``; "" unless the url is http(s) (a page puts the
    link in an ``href``: a ``javascript:`` address must never get there). A url that already has a fragment keeps
    it, the directive following it (``page#part:~:text=...``), as the spec allows."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
        return ""
    directive = text_directive(quote_text)
    base = parts._replace(fragment=parts.fragment.split(":~:")[0]).geturl()  # no directive of its own kept
    if not directive:
        return base
    return f"{base}:~:{directive}" if "#" in base else f"{base}#:~:{directive}"
