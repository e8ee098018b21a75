"""The driver's own connection: its failures are raised as SQLAlchemy raises them."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
import sqlalchemy as sa

from engine.runtime.infra import is_infrastructure_error
from store.db import make_engine, session_scope
from store.driver import driver_connection
from store.eventlog import event_row, insert_events
from store.types import utcnow


def test_a_driver_statement_on_a_missing_table_raises_sqlalchemys_operational_error(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}", create=True)
    row = event_row("e1", "order.created", {"name": "Ana"}, occurred_at=utcnow(), source="api")
    with pytest.raises(sa.exc.OperationalError, match="no such table: events") as raised, \
            session_scope(engine) as session:
        insert_events(session, [row])
    assert isinstance(raised.value.orig, sqlite3.OperationalError)
    assert "Ana" not in str(raised.value)  # the parameters stay out of the message
    engine.dispose()


def test_a_locked_database_reads_as_an_infrastructure_failure(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    engine = make_engine(f"sqlite:///{path}", create=True)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    holder = sqlite3.connect(path)
    holder.execute("BEGIN IMMEDIATE")  # another process's write transaction
    try:
        with engine.connect() as conn:
            driver = driver_connection(conn)
            driver.execute("PRAGMA busy_timeout = 50")
            with pytest.raises(sa.exc.OperationalError, match="locked") as raised:
                driver.executemany("INSERT INTO t (x) VALUES (?)", [(1,), (2,)])
    finally:
        holder.rollback()
        holder.close()
        engine.dispose()
    assert is_infrastructure_error(raised.value)
