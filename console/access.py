"""Reads of a person's data through the console, in that person's access log (who, what, why).

The pages that show what despacho did for a customer (a run's trace and rendered params, the
dead letters, the runs found by a customer search) record one entry per customer their
events name, with the signed-in user as actor and the page as ``what``. The console asks
for no reason per page: its entries carry the console's own, ``console: operations`` (the
operators' work on runs and failures), so the data-protection officer can tell them apart.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlmodel import Session, col, select

from store.console_users import SessionInfo
from store.models.events import Event
from store.privacy.access import payload_customer_ids, record_access

CONSOLE_REASON = "console: operations"


def record_page_read(session: Session, user: SessionInfo, events: Iterable[Event | None], *,
                     what: str) -> int:
    """One access entry per customer the ``events`` name; none when they name nobody."""
    ids = [cid for event in events if event is not None for cid in payload_customer_ids(event.payload)]
    return record_access(session, user.actor, ids, what=what, reason=CONSOLE_REASON)


def events_by_id(session: Session, event_ids: Iterable[Any]) -> list[Event]:
    wanted = sorted({str(i) for i in event_ids if i})
    events: list[Event] = []
    for start in range(0, len(wanted), 500):  # SQLite caps the bound parameters
        events.extend(session.exec(select(Event).where(col(Event.id).in_(wanted[start:start + 500]))).all())
    return events
