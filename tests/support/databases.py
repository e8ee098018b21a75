"""Test databases: a fresh copy of the migrated SQLite template, one migrated PostgreSQL database per run,
and an engine that leaves a shared PostgreSQL database empty for the next test."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

from store.db import make_engine
from store.migrate import upgrade
from store.models import metadata
from tests.support.postgres import throwaway_pg_database


def sqlite_copy(template: Path, folder: Path) -> str:
    """The URL of a private copy of the migrated template (copying is faster than migrating)."""
    path = folder / "despacho.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@contextmanager
def migrated_pg_database() -> Iterator[str]:
    """A throwaway PostgreSQL database, migrated; dropped afterwards. Fails (never skips) when PG is down."""
    with throwaway_pg_database() as url:
        upgrade(url)
        yield url


@contextmanager
def emptied_engine(url: str) -> Iterator[sa.Engine]:
    """An engine on ``url``; a PostgreSQL database shared by the run is emptied after the test."""
    engine = make_engine(url)
    try:
        yield engine
    finally:
        if engine.dialect.name == "postgresql":
            tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
            with engine.begin() as connection:
                connection.execute(sa.text(f"TRUNCATE {tables} CASCADE"))
        engine.dispose()
