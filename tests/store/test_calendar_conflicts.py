"""Listing the conflicts calendar sync recorded: newest first, per appointment, bounded."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa

from store.calendar_conflicts import list_conflicts
from store.db import session_scope
from store.models import Appointment, CalendarConflict, ServiceOrder


def test_conflicts_are_listed_newest_first_with_both_versions(
        engine: sa.Engine, at: datetime, make_order: Callable[..., ServiceOrder]) -> None:
    order = make_order()
    with session_scope(engine) as s:
        visits = [Appointment(order_id=order.id, starts_at=at, ends_at=at + timedelta(hours=1))
                  for _ in range(2)]
        s.add_all(visits)
        s.flush()
        for n, visit in enumerate([*visits, visits[0]]):
            s.add(CalendarConflict(appointment_id=visit.id, calendar_id="c@example.com",
                                   google_event_id=f"ev{n}", ours={"start": "a"}, theirs={"start": "b"},
                                   policy="google_wins",
                                   winner="google", detected_at=at + timedelta(minutes=n)))

    with session_scope(engine) as s:
        every = list_conflicts(s, limit=10)
        one = list_conflicts(s, limit=10, appointment_id=visits[0].id)
        capped = list_conflicts(s, limit=1)
    assert [row["google_event_id"] for row in every] == ["ev2", "ev1", "ev0"]
    assert [row["google_event_id"] for row in one] == ["ev2", "ev0"]
    assert len(capped) == 1
    assert every[0]["ours"] == {"start": "a"} and every[0]["theirs"] == {"start": "b"}
    assert every[0]["detected_at"] == (at + timedelta(minutes=2)).isoformat()
    assert every[0]["winner"] == "google" and every[0]["policy"] == "google_wins"
