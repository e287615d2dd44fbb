"""Opening the database: SQLite in ``var/`` by default, PostgreSQL (psycopg 3) when KBOT_DATABASE_URL names one, and
bringing its schema up to date with the Alembic migrations shipped in this package (``alembic upgrade head``)."""

from __future__ import annotations

from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url

from kbot.config import Settings
from kbot.errors import InvalidSettings

MIGRATIONS = "kbot.store:migrations"
CONNECT_TIMEOUT_S = 5
_LOCK_ID = 0x6B626F74  # "kbot": one process migrates a PostgreSQL database at a time (workers, replicas)


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL: KBOT_DATABASE_URL (``postgresql://`` means psycopg 3), else SQLite in var_dir."""
    url = settings.database_url.strip()
    if not url:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{settings.var_dir / 'kbot.db'}"
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def make_engine(settings: Settings) -> Engine:
    url = database_url(settings)
    try:
        backend = make_url(url).get_backend_name()
    except Exception:
        raise InvalidSettings(
            "KBOT_DATABASE_URL is not a database URL; write it like postgresql://user:password@host/dbname"
        ) from None
    if backend == "sqlite":
        engine = create_engine(url, connect_args={"timeout": 10})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    # A database that does not answer must not hold up start-up for the OS's TCP timeout of minutes.
    connect_args = {"connect_timeout": CONNECT_TIMEOUT_S} if backend == "postgresql" else {}
    return create_engine(url, pool_pre_ping=True, pool_size=2, max_overflow=2, connect_args=connect_args)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")  # ON DELETE CASCADE
    cursor.execute("PRAGMA journal_mode=WAL")  # readers (the report) never block the writer
    cursor.close()


def migrate(engine: Engine) -> None:
    """``alembic upgrade head`` on ``engine``'s database; on PostgreSQL under an advisory lock, so that workers and
    replicas starting together migrate it once."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": _LOCK_ID})
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def prepare(settings: Settings) -> None:
    """Migrate the configured database once (``kbot serve`` does, before its workers start and find it up to date)."""
    engine = make_engine(settings)
    try:
        migrate(engine)
    finally:
        engine.dispose()
