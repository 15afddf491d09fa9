"""A real PostgreSQL for the tests: Debian's server, a private cluster in a temporary folder.

``initdb`` makes the cluster (as the ``postgres`` user when the tests run as root: PostgreSQL
refuses to run as root), ``pg_ctl`` starts it on 127.0.0.1 on a free port with its socket in
the same folder; password authentication (scram-sha-256) is required over TCP, so a wrong or
missing password fails as it would at a real server. One cluster per test session (starting
one takes a few seconds); each test gets its own database (:func:`new_database`).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from servers import free_port

USER = "docmail"
PASSWORD = "pg s3cret:with@odd/chars"
_NUMBERS = itertools.count(1)


def bin_dir() -> Path | None:
    """Debian's PostgreSQL programs (the newest version installed), or None."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=_version)
    return found[-1].parent if found else None


def _version(path: Path) -> float:
    try:
        return float(path.parent.parent.name)
    except ValueError:
        return 0.0


@dataclass
class PostgresCluster:
    """A running cluster: 127.0.0.1:``port``, superuser ``USER`` with ``PASSWORD``."""

    folder: Path
    port: int
    bin: Path
    owner: str | None  # the user the server runs as (None: the current one)

    host = "127.0.0.1"
    user = USER
    password = PASSWORD

    def url(self, database: str, *, password: bool = True) -> str:
        """``postgresql://docmail[:password]@127.0.0.1:port/database`` (password URL-quoted)."""
        from urllib.parse import quote

        secret = f":{quote(self.password, safe='')}" if password else ""
        return f"postgresql://{self.user}{secret}@{self.host}:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        """Run one statement as the superuser in the ``postgres`` database (autocommit)."""
        import psycopg

        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def new_database(self) -> str:
        """A new, empty database; its URL (with the password)."""
        name = f"ledger_{os.getpid()}_{next(_NUMBERS)}"
        self.admin(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def stop(self) -> None:
        self._run([str(self.bin / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "fast", "stop"])

    def _run(self, command: list[str]) -> None:
        prefix = ["runuser", "-u", self.owner, "--"] if self.owner else []
        subprocess.run(prefix + command, check=True, capture_output=True, timeout=120)


def start_cluster() -> PostgresCluster:
    """A new cluster in a temporary folder, started; ``stop`` it and remove the folder after."""
    programs = bin_dir()
    if programs is None:
        pytest.fail(
            "PostgreSQL is not installed: apt-get install postgresql (make test-deps does)."
        )
    owner = "postgres" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="docmail-pg-"))
    if owner is not None:
        entry = pwd.getpwnam(owner)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    (folder / "pw").write_text(PASSWORD + "\n", encoding="utf-8")
    if owner is not None:
        os.chown(folder / "pw", entry.pw_uid, entry.pw_gid)
    cluster = PostgresCluster(folder, free_port(), programs, owner)
    cluster._run(
        [
            str(programs / "initdb"),
            "-D",
            str(folder / "data"),
            "-U",
            USER,
            "--pwfile",
            str(folder / "pw"),
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]
    )
    (folder / "pw").unlink()
    options = (
        f"-p {cluster.port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off "
        "-c max_connections=200"
    )
    cluster._run(
        [
            str(programs / "pg_ctl"),
            "-D",
            str(folder / "data"),
            "-o",
            options,
            "-l",
            str(folder / "server.log"),
            "-w",
            "start",
        ]
    )
    return cluster


@contextlib.contextmanager
def running_cluster() -> Iterator[PostgresCluster]:
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.SubprocessError, OSError):
            cluster.stop()
        shutil.rmtree(cluster.folder, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresCluster]:
    """One PostgreSQL cluster for the whole test session."""
    with running_cluster() as cluster:
        yield cluster


@pytest.fixture
def pg_url(postgres: PostgresCluster) -> str:
    """The URL (password included) of a new, empty database of the session's cluster."""
    return postgres.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def ledger_store(request: pytest.FixtureRequest, tmp_path: Path) -> str | Path:
    """Where a test's ledger is: a new SQLite file, then a new PostgreSQL database."""
    if request.param == "sqlite":
        return tmp_path / "l.sqlite"
    url: str = request.getfixturevalue("pg_url")
    return url
