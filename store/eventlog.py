"""Writing to the event log, and reading what the outbox relay has yet to dispatch."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col, select

from store.bulk import driver_values
from store.driver import bind_processor, driver_connection
from store.models.events import Event
from store.types import new_id, utcnow
from store.validation import check_aware, check_required

DOMAIN_SOURCE = "despacho"


def record_event(session: Session, event_type: str, payload: dict[str, Any], *,
                 occurred_at: datetime | None = None, source: str = DOMAIN_SOURCE) -> Event:
    """Add a domain event to the caller's transaction: it commits with the change it describes."""
    event = Event(id=new_id(), type=event_type, source=source,
                  occurred_at=occurred_at or utcnow(), payload=payload)
    session.add(event)
    return event


def insert_event(session: Session, event_id: str, event_type: str, payload: dict[str, Any], *,
                 occurred_at: datetime, source: str) -> bool:
    """Store an event delivered from outside; ``False`` when its id was already stored."""
    row = event_row(event_id, event_type, payload, occurred_at=occurred_at, source=source)
    return event_id in insert_events(session, [row])


def event_row(event_id: str, event_type: str, payload: dict[str, Any], *, occurred_at: datetime,
              source: str) -> dict[str, Any]:
    """A checked row for ``insert_events``."""
    check_required("event.id", event_id)
    check_required("event.type", event_type)
    check_aware("event.occurred_at", occurred_at)
    return {"id": event_id, "type": event_type, "source": source, "occurred_at": occurred_at,
            "recorded_at": utcnow(), "payload": payload, "dispatched_at": None}


def insert_events(session: Session, rows: Sequence[dict[str, Any]]) -> set[str]:
    """Store events in one statement; returns the ids that were new.

    ``INSERT ... ON CONFLICT DO NOTHING`` rather than check-then-insert: two
    deliveries racing each other still store one row, and neither fails.
    """
    if not rows:
        return set()
    dialect = session.get_bind().dialect
    if dialect.name == "sqlite":
        return _insert_events_sqlite(session, rows, dialect)
    # RETURNING, not rowcount: through the ORM session psycopg reported 1 for a skipped row.
    # The rows go as parameters, not in the statement: SQLAlchemy then sends them as one
    # multi-row INSERT ("insertmanyvalues") whose compiled form is cached, where .values(rows)
    # compiled a new statement for every batch (two thirds of the cost of a small batch).
    return set(session.execute(_INSERT_IGNORING_KNOWN_IDS[dialect.name], list(rows)).scalars())


def _insert_events_sqlite(session: Session, rows: Sequence[dict[str, Any]], dialect: sa.Dialect) -> set[str]:
    """One prepared statement per row on the driver's connection, values through the columns' own
    types (``store.bulk.driver_values``): SQLAlchemy's multi-row INSERT cost the API's intake more
    than SQLite's work, and sqlite3's executemany cannot return the new ids."""
    statement, values = driver_values(_EVENTS, rows, dialect)
    statement += " ON CONFLICT (id) DO NOTHING RETURNING id"
    conn = driver_connection(session)
    stored = set()
    for row, row_values in zip(rows, values, strict=True):
        if conn.execute(statement, row_values).fetchone() is not None:
            stored.add(row["id"])
    return stored


_INSERT_IGNORING_KNOWN_IDS = {
    name: insert(Event.__table__).on_conflict_do_nothing(index_elements=["id"])
    .returning(Event.__table__.c.id)
    for name, insert in (("postgresql", postgresql.insert), ("sqlite", sqlite.insert))
}


def undispatched(session: Session, limit: int = 100) -> Sequence[Event]:
    """The oldest events the relay has not handed on (served by ``ix_events_undispatched``)."""
    statement = (select(Event).where(col(Event.dispatched_at).is_(None))
                 .order_by(col(Event.occurred_at)).limit(limit))
    return session.exec(statement).all()


_EVENTS = Event.__table__
# PostgreSQL takes the ids as one array; SQLite as one JSON document, on the driver's connection.
# An expanding IN list of a relay batch's 500 ids cost more to render on every call than to run, and
# SQLAlchemy's executemany as much again.
_DISPATCH_ALL = (sa.update(_EVENTS)
                 .where(_EVENTS.c.id == sa.any_(sa.bindparam("ids", type_=postgresql.ARRAY(sa.String))),
                        _EVENTS.c.dispatched_at.is_(None))
                 .values(dispatched_at=sa.bindparam("at")))
_DISPATCH_SQLITE = ("UPDATE events SET dispatched_at = :at "
                   "WHERE id IN (SELECT value FROM json_each(:ids)) AND dispatched_at IS NULL")


def mark_dispatched(session: Session, event_ids: Sequence[str], at: datetime | None = None) -> int:
    """Events handed on to the planner; how many were not marked already."""
    if not event_ids:
        return 0
    at = at or utcnow()
    if session.get_bind().dialect.name == "postgresql":
        result = session.execute(_DISPATCH_ALL, {"ids": list(event_ids), "at": at})
        return cast("sa.CursorResult[Any]", result).rowcount  # an UPDATE gives a cursor result
    stamp = bind_processor(session.get_bind().dialect, _EVENTS.c.dispatched_at.type)
    marked = driver_connection(session).execute(_DISPATCH_SQLITE, {"ids": json.dumps(list(event_ids)),
                                                                   "at": stamp(at)})
    return int(marked.rowcount)
