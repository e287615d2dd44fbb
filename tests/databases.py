"""The databases the store is tested on: SQLite in a tmp folder, and a real PostgreSQL server (Debian's package),
started in a throwaway cluster for the test session (initdb + pg_ctl, on a unix socket in a private folder) and
stopped after it. Import the fixtures into a test module: ``from databases import database_url, postgres``.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
BACKENDS = ["sqlite", "postgresql"]


@dataclass(frozen=True)
class PgCluster:
    socket_dir: Path
    user: str = "kbot"

    def url(self, database: str) -> str:
        return f"postgresql://{self.user}@/{database}?host={self.socket_dir}"

    def create_database(self) -> str:
        import psycopg

        name = "kbot_" + uuid.uuid4().hex[:12]
        with psycopg.connect(host=str(self.socket_dir), user=self.user, dbname="postgres", autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return name

    def dump(self, database: str) -> str:
        """pg_dump of the whole database, as SQL text."""
        pg_dump = PG_BINS[-1].parent / "pg_dump"
        cmd = [str(pg_dump), "-h", str(self.socket_dir), "-U", self.user, "--no-owner", database]
        return subprocess.run(cmd, check=True, capture_output=True, text=True).stdout


def _as_postgres() -> list[str]:
    """initdb and the server refuse to run as root: run them as Debian's postgres user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


@pytest.fixture(scope="session")
def postgres() -> Iterator[PgCluster]:
    if not PG_BINS:
        pytest.skip(
            "PostgreSQL's server is not installed (no /usr/lib/postgresql/*/bin/initdb): run scripts/setup --db"
        )
    bin_dir = PG_BINS[-1].parent
    base = Path(tempfile.mkdtemp(prefix="kbot-pg-"))
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        os.chown(base, owner.pw_uid, owner.pw_gid)
    data = base / "data"
    run = _as_postgres()
    subprocess.run(
        [*run, str(bin_dir / "initdb"), "-D", str(data), "-U", "kbot", "--auth=trust", "-E", "UTF8", "--no-sync"],
        check=True,
        capture_output=True,
    )
    options = f"-c listen_addresses='' -k {base} -c fsync=off -c full_page_writes=off"
    pg_ctl = [*run, str(bin_dir / "pg_ctl"), "-D", str(data), "-l", str(base / "server.log")]
    subprocess.run([*pg_ctl, "-o", options, "-w", "start"], check=True, capture_output=True)
    try:
        yield PgCluster(base)
    finally:
        subprocess.run([*pg_ctl, "-m", "immediate", "-w", "stop"], check=False, capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind: a SQLite file in tmp_path, or a new database on the test cluster."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'kbot.db'}"
    cluster: PgCluster = request.getfixturevalue("postgres")
    return cluster.url(cluster.create_database())


def dump(url: str) -> str:
    """Everything the database holds, as SQL text: sqlite3's iterdump, or pg_dump."""
    if url.startswith("sqlite:///"):
        import sqlite3

        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return "\n".join(conn.iterdump())
    socket_dir = Path(url.split("host=", 1)[1])
    database = url.split("/")[3].split("?")[0]
    return PgCluster(socket_dir).dump(database)
