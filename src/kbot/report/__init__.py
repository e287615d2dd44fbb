"""The curator's report (`kbot report`, `/admin/report`): outcome rates over time, the least helpful quotes, the
articles never quoted and the unanswered questions grouped by similarity."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from kbot.config import Settings
from kbot.report.gather import Embed, InvalidPeriod, Report, gather, parse_since
from kbot.store.database import make_engine, migrate

__all__ = ["Embed", "InvalidPeriod", "Report", "build_report", "parse_since", "write_report"]


def build_report(settings: Settings, kb: str, period: timedelta, embed: Embed | None = None) -> Report:
    """The report from the configured database (migrated first: a fresh one reports nothing, without an error)."""
    engine = make_engine(settings)
    try:
        migrate(engine)
        with Session(engine) as session:
            return gather(settings, session, kb, period, embed)
    finally:
        engine.dispose()


def write_report(settings: Settings, kb: str, period: timedelta, out: Path, embed: Embed | None = None) -> list[Path]:
    from kbot.report.render import write

    return write(build_report(settings, kb, period, embed), out)
