"""kbot: answers patients' questions only by quoting vetted articles, with citations."""

__version__ = "0.1.0"
