"""Intake: the one way events enter despacho (API, CLI, scheduler, webhooks, actions).

An accepted event is a row in the event log, stored once per id, with
``dispatched_at`` empty; the outbox relay hands it to the matcher. Nothing
here depends on a broker or on another process being up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlmodel import Session

from engine.events import Event
from store.eventlog import insert_event


@dataclass(frozen=True)
class Accepted:
    id: str
    stored: bool  # False: this id was already stored (a redelivery), nothing changed


def accept_events(session: Session, events: Iterable[Event]) -> list[Accepted]:
    """Store events in the caller's transaction; a redelivered id is accepted and ignored."""
    return [
        Accepted(event.id, insert_event(session, event.id, event.type, event.data,
                                        occurred_at=event.at, source=event.source))
        for event in events
    ]
