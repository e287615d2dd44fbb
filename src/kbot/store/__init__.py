"""What kbot stores about the answers it gives and the feedback they get (see Privacy in the README): SQLAlchemy
tables, Alembic migrations run at startup, a background writer, scrubbing, and the queries of the curator's report."""

from kbot.store.records import MAX_COMMENT_CHARS, REASON_LABELS, REASONS, Reason, Vote
from kbot.store.store import Store

__all__ = ["MAX_COMMENT_CHARS", "REASONS", "REASON_LABELS", "Reason", "Store", "Vote"]
