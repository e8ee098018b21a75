"""Engines and sessions: one transaction per operation."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlmodel import Session

import store.guards  # registers the flush checks
import store.models  # noqa: F401  (every table known to the metadata)
from store.errors import NoSuchDatabase

# SQLite has no DECIMAL; SQLAlchemy converts through float and says so on
# every engine. Two-place amounts below 10^10 survive that exactly.
warnings.filterwarnings("ignore", message=r"Dialect sqlite\+pysqlite does \*not\* support Decimal")


def normalize_url(url: str) -> str:
    """``postgresql://`` means psycopg 3 here (psycopg2 is not installed)."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def make_engine(url: str, *, pre_ping: bool = True, create: bool = False, **kwargs: Any) -> sa.Engine:
    """An engine; SQLite gets foreign keys on and is opened read-write, never created, unless ``create``.

    Only ``despacho db upgrade`` creates a database (``create=True``: its parent folder made, the
    new file made 0600). Anywhere else a missing SQLite file is ``NoSuchDatabase``: SQLite's own
    ``connect`` would quietly create an empty file wherever the command happened to run, and a
    file deleted later makes connections fail instead of starting an empty database.

    ``pre_ping`` tests each pooled connection with a round trip before use, so a request after a
    database restart does not fail on a dead connection. Worker processes turn it off: they
    treat a lost connection as an outage (the step waits, the pool is refreshed) and the extra
    round trip per transaction cost about a tenth of their throughput.
    """
    parsed = make_url(normalize_url(url))
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:" and not _is_uri(parsed.database, parsed.query):
            parsed = _read_write(parsed, Path(parsed.database), create=create)
        engine = sa.create_engine(parsed, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(parsed, pool_pre_ping=pre_ping, **kwargs)


def _read_write(url: URL, path: Path, *, create: bool) -> URL:
    """The URL opening ``path`` through SQLite's URI form with ``mode=rw`` (no create)."""
    if create:
        path.parent.mkdir(parents=True, exist_ok=True)
        create_private(path)
    elif not path.is_file():
        raise NoSuchDatabase(path)
    # absolute: a later change of the working directory cannot point the pool elsewhere
    database = "file:" + quote(str(path.resolve()))
    return url.set(database=database, query={**url.query, "mode": "rw", "uri": "true"})


def make_bookkeeping_engine(url: str, *, pool_size: int) -> sa.Engine | None:
    """PostgreSQL only (``None`` otherwise): autocommit connections whose commits do not wait for the disk.

    For step claims and records that are one statement each: a database crash may forget
    the last moments of them, and those steps then run again under their idempotency keys,
    as after a worker crash. No pre-ping: a lost connection is an outage the runner waits out.
    """
    url = normalize_url(url)
    if make_url(url).get_backend_name() != "postgresql":
        return None
    return sa.create_engine(url, isolation_level="AUTOCOMMIT", pool_size=pool_size, max_overflow=pool_size,
                            connect_args={"options": "-c synchronous_commit=off"})


def create_private(path: Path) -> None:
    """Create the database file 0600 if it is missing (an empty file is a valid SQLite database).

    SQLite would create it with the process umask, usually world-readable, and gives the -wal
    and -shm files the database file's mode: making the file first keeps all three private.
    An existing file keeps the mode its owner gave it.
    """
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    os.close(descriptor)


def _is_uri(database: str, query: Any) -> bool:
    # sqlite:///file:name?mode=memory&uri=true names no plain file
    return database.startswith("file:") and str(query.get("uri", "")).lower() == "true"


# SQLite copies the write-ahead log into the database inside the commit that grows it past this
# many pages (default 1,000, about 4 MB). A log written without pause is seldom copied in full by
# the API's own checkpoint, which runs off the request path (``api.app._checkpoint``), so at 1,000
# one event commit in twenty also copied the log and waited for the disk (5 to 12 ms for each
# request in it), and bench/bench_api.py's p99 was 2.4 times the bare endpoint's. At 10,000
# (about 40 MB of log at most) that commit comes every few seconds at full load.
WAL_AUTOCHECKPOINT_PAGES = 10_000


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    # WAL lets the API read while a worker writes
    cursor.execute("PRAGMA journal_mode=WAL")
    # In WAL mode NORMAL still survives a crash of any process; only a power cut may lose the
    # last commits. FULL would fsync every commit, and steps commit twice each.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
    cursor.close()


@contextmanager
def session_scope(engine: sa.Engine) -> Iterator[Session]:
    """A session whose work commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def unreachable(exc: BaseException) -> bool:
    """Did a database call fail to reach the server (down, refused, bad credentials, lost connection)?

    ``False`` for a statement the database refused, such as a missing table
    (SQLite calls that an ``OperationalError`` too, hence this test instead of the class).
    """
    return isinstance(exc, sa.exc.DBAPIError) and (exc.statement is None or exc.connection_invalidated)
