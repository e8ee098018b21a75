"""Intake: the one way events enter despacho (API, CLI, scheduler, webhooks, actions).

An accepted event is a row in the event log, stored once per id, with
``dispatched_at`` empty; the outbox relay hands it to the matcher. Nothing
here depends on a broker or on another process being up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session

from engine.language.events import Event
from store.eventlog import event_row, insert_events

# Rows per INSERT: well under the parameter limits of SQLite (32,766) and PostgreSQL (65,535).
_CHUNK = 500
# PostgreSQL delivers it when the transaction commits; relays listening wake at once (``wakeups``).
EVENTS_CHANNEL = "despacho_events"
_NOTIFY = sa.text(f"NOTIFY {EVENTS_CHANNEL}")


@dataclass(frozen=True)
class Accepted:
    id: str
    stored: bool  # False: this id was already stored (a redelivery), nothing changed


def accept_events(session: Session, events: Iterable[Event]) -> list[Accepted]:
    """Store events in the caller's transaction; a redelivered id is accepted and ignored.

    One INSERT for the whole batch (on SQLite, one prepared INSERT run per event); the same id
    twice in one batch is stored once.
    """
    events = list(events)
    stored: set[str] = set()
    for start in range(0, len(events), _CHUNK):
        chunk = events[start:start + _CHUNK]
        stored |= insert_events(session, [
            event_row(e.id, e.type, e.data, occurred_at=e.at, source=e.source) for e in chunk])
    if stored and session.get_bind().dialect.name == "postgresql":
        session.execute(_NOTIFY)
    seen: set[str] = set()
    accepted = []
    for event in events:
        accepted.append(Accepted(event.id, event.id in stored and event.id not in seen))
        seen.add(event.id)
    return accepted
