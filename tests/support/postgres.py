"""PostgreSQL for tests: throwaway databases on the shared server (fail, never skip, when it is down),
and private servers for tests that stop one."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
import pytest

from tests.fakes.ports import restartable_port

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_START_HINT = (
    "PostgreSQL does not answer on 127.0.0.1:5432; start it with "
    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
    "(or `make services`)"
)


def create_pg_database(name: str) -> str:
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"{PG_START_HINT}\n({exc})")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def throwaway_pg_database() -> Iterator[str]:
    """An empty database with a unique name, dropped afterwards; yields its URL."""
    name = f"despacho_test_{uuid.uuid4().hex[:12]}"
    url = create_pg_database(name)
    try:
        yield url
    finally:
        drop_pg_database(name)


class PrivatePostgres:
    """A PostgreSQL server of the test's own on a free port, which the test may stop and start again.

    ``initdb`` refuses to run as root, so under root the server runs as the ``postgres`` user, in a
    folder of its own under the system temp dir (pytest's folders are closed to other users).
    """

    def __init__(self) -> None:
        found = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
        if not found:
            pytest.fail("PostgreSQL server binaries are not installed (apt install postgresql)")
        self.bin = found[-1].parent
        self.root = Path(tempfile.mkdtemp(prefix="despacho-pg-"))
        self.folder = self.root / "data"
        self.port = restartable_port()

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, *args: object) -> None:
        command = [str(a) for a in args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)

    def init(self) -> None:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres(self.bin / "initdb", "-D", self.folder, "-U", "postgres", "--auth=trust",
                          "--no-sync")

    def configure(self, **settings: str) -> None:
        """Append ``name = 'value'`` lines to the cluster's postgresql.conf (after ``init``)."""
        quoted = {name: value.replace("'", "''") for name, value in settings.items()}
        lines = "".join(f"{name} = '{value}'\n" for name, value in quoted.items())
        with (self.folder / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write(lines)

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_postgres(self.bin / "pg_ctl", "-D", self.folder, "-o", options, "-w", "-t", "60",
                          "-l", self.root / "postgres.log", "start")

    def stop(self) -> None:
        self._as_postgres(self.bin / "pg_ctl", "-D", self.folder, "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        """Stop the server if it runs and delete its files."""
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def archiving_postgres(archive_command: Callable[[Path], str],
                       **settings: str) -> Iterator[tuple[PrivatePostgres, Path]]:
    """A private server archiving its WAL (``archive_command(folder)``) into a folder of its own, with
    any further postgresql.conf ``settings``; yields the server and that folder. Removed afterwards."""
    server = PrivatePostgres()
    try:
        server.init()
        archive = server.root / "wal-archive"
        archive.mkdir()
        if os.geteuid() == 0:
            shutil.chown(archive, "postgres", "postgres")
        server.configure(wal_level="replica", archive_mode="on", archive_command=archive_command(archive),
                         max_wal_senders="4", **settings)
        server.start()
        yield server, archive
    finally:
        server.remove()


def switch_and_wait_archived(dsn: str, timeout: float = 30) -> None:
    """Close the current WAL segment and wait until the server has archived it."""
    import time

    with psycopg.connect(dsn, autocommit=True) as conn:
        row = conn.execute("SELECT pg_walfile_name(pg_switch_wal())").fetchone()
        assert row is not None
        segment = row[0]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = conn.execute("SELECT last_archived_wal, last_failed_wal FROM pg_stat_archiver").fetchone()
            if done and done[0] and done[0] >= segment:
                return
            time.sleep(0.05)
    pytest.fail(f"PostgreSQL did not archive WAL segment {segment} within {timeout:g} s "
                f"(last failed: {done[1] if done else None})")
