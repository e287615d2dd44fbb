"""kbot's few errors. Each carries a message that says what was expected and what to do instead.

They are translated once at each boundary: an exit code and message in the CLI, an HTTP status in the API.
"No answer in the sources" is not an error: it is an Answer with status "no_answer".
"""

from __future__ import annotations


class KbotError(Exception):
    """Base class. ``fix`` is the command or step that resolves it, when there is one."""

    def __init__(self, message: str, fix: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix

    def __str__(self) -> str:
        return f"{self.message}\n  To fix it: {self.fix}" if self.fix else self.message


class CatalogError(KbotError):
    """seeds/ and seeds/sources.toml disagree, or an entry is malformed."""


class IndexMissing(KbotError):
    """No index has been built yet."""


class IndexCorrupt(KbotError):
    """The index files cannot be read or do not fit together."""


class IndexStale(KbotError):
    """The index was built from other sources or with another model."""


class IngestRunning(KbotError):
    """Another ingest is building the same knowledge base's index."""


class UnknownKnowledgeBase(KbotError):
    """A knowledge base name that is not configured."""


class InvalidQuestion(KbotError):
    """A question that cannot be asked (empty, too long)."""


class InvalidSettings(KbotError):
    """A KBOT_* variable (or .env entry) that cannot be used."""


class FeedbackRefused(KbotError):
    """A vote kbot cannot take: ``code`` says why (``unknown_answer``, ``already_voted``, ``store_unavailable``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
