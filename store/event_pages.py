"""Reading the event log in pages, oldest first: what ``despacho plan`` replays.

Keyset pages on ``(occurred_at, id)`` rather than OFFSET, so every page costs
the same however far in, and memory holds one page at a time.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from store.errors import ValidationFailed
from store.models.events import Event
from store.validation import check_aware

DEFAULT_PAGE = 500


def events_since(session: Session, since: datetime, *, until: datetime | None = None,
                 page: int = DEFAULT_PAGE) -> Iterator[Event]:
    """Stored events that happened at or after ``since`` (and before ``until``), oldest first."""
    check_aware("since", since)
    if until is not None:
        check_aware("until", until)
    if page < 1:
        raise ValidationFailed("page", f"must be at least 1, not {page}")
    after: tuple[datetime, str] | None = None
    while True:
        statement = select(Event).where(col(Event.occurred_at) >= since)
        if until is not None:
            statement = statement.where(col(Event.occurred_at) < until)
        if after is not None:
            statement = statement.where(sa.tuple_(col(Event.occurred_at), col(Event.id)) > after)
        rows = session.exec(statement.order_by(col(Event.occurred_at), col(Event.id)).limit(page)).all()
        for row in rows:
            session.expunge(row)  # the session keeps no reference: memory stays one page
            yield row
        if len(rows) < page:
            return
        after = (rows[-1].occurred_at, rows[-1].id)
