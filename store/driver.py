"""The driver's own connection under a SQLAlchemy one, and the column types' value converters.

The embedded hot paths (``store.runs_sqlite``, the relay's inserts and marks) run
plain SQL on the sqlite3 connection inside the caller's transaction: SQLAlchemy's
per-statement work cost more than SQLite's. Values still go in and come out
through the columns' own types, so rows read the same whichever path wrote them.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

Processor = Callable[[Any], Any]


def driver_connection(bound: sa.Connection | Session) -> DriverConnection:
    """The DBAPI connection of ``bound``'s transaction (a session's is begun if it was not)."""
    conn = bound.connection() if isinstance(bound, Session) else bound
    dbapi = conn.connection.dbapi_connection
    assert dbapi is not None  # a connection in use is open
    return DriverConnection(dbapi, conn.dialect)


class DriverConnection:
    """The driver's connection, its errors raised as SQLAlchemy raises them (``sa.exc.OperationalError``
    for a locked or missing database, ...): callers, ``is_infrastructure_error`` and the CLI's hints
    then read a failure alike whichever path ran the statement."""

    def __init__(self, dbapi: Any, dialect: sa.Dialect) -> None:
        self.dbapi, self.dialect = dbapi, dialect

    def execute(self, statement: str, params: Any = ()) -> Any:
        """The driver's cursor, as ``execute`` on the DBAPI connection returns it."""
        try:
            return self.dbapi.execute(statement, params)
        except self.dialect.loaded_dbapi.Error as exc:
            raise self._wrapped(statement, exc) from exc

    def executemany(self, statement: str, rows: Any) -> Any:
        try:
            return self.dbapi.executemany(statement, rows)
        except self.dialect.loaded_dbapi.Error as exc:
            raise self._wrapped(statement, exc) from exc

    def _wrapped(self, statement: str, error: Exception) -> BaseException:
        # parameters left out: they may hold personal data, and the statement names the table
        return sa.exc.DBAPIError.instance(statement, None, error, self.dialect.loaded_dbapi.Error,
                                          hide_parameters=True, dialect=self.dialect)


# keyed by the engine's dialect (its JSON serializer is its own): bounded, as a long test run
# makes thousands of engines
@lru_cache(maxsize=1024)
def bind_processor(dialect: sa.Dialect, type_: Any) -> Processor:
    """What SQLAlchemy would send for a value of ``type_`` (the value itself when nothing changes it)."""
    process: Processor | None = type_.dialect_impl(dialect).bind_processor(dialect)
    return process or _same


@lru_cache(maxsize=1024)
def result_processor(dialect: sa.Dialect, type_: Any) -> Processor | None:
    """What SQLAlchemy would make of a stored value of ``type_``; ``None``: the value as it is."""
    process: Processor | None = type_.dialect_impl(dialect).result_processor(dialect, None)
    return process


def _same(value: Any) -> Any:
    return value
