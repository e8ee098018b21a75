"""Moving and cancelling a visit from outside its order records who did it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from store.appointments import cancel, reschedule
from store.db import session_scope
from store.errors import ValidationFailed
from store.models import Appointment, Event, ServiceOrder, Technician
from tests.support.catalogue import payload_errors


def make_visit(engine: sa.Engine, order: ServiceOrder, technician: Technician, at: datetime,
               status: str = "scheduled") -> str:
    with session_scope(engine) as s:
        visit = Appointment(order_id=order.id, technician_id=technician.id, starts_at=at,
                            ends_at=at + timedelta(hours=2), status=status)
        s.add(visit)
        s.flush()
        return visit.id


def events(engine: sa.Engine) -> list[Event]:
    with session_scope(engine) as s:
        return list(s.exec(select(Event)))


def test_rescheduling_moves_the_visit_and_records_the_previous_times(
        engine: sa.Engine, at: datetime, make_order: Callable[..., ServiceOrder],
        make_technician: Callable[..., Technician]) -> None:
    visit_id = make_visit(engine, make_order(), make_technician(), at)
    with session_scope(engine) as s:
        visit = s.get(Appointment, visit_id)
        assert visit is not None
        moved = reschedule(s, visit, at + timedelta(days=1), at + timedelta(days=1, hours=1),
                           changed_by="google", source="google", at=at)
    (event,) = events(engine)
    assert moved and (event.type, event.source) == ("appointment.rescheduled", "google")
    assert event.payload["previous_starts_at"] == at.isoformat()
    assert event.payload["appointment"]["ends_at"] == (at + timedelta(days=1, hours=1)).isoformat()
    assert payload_errors(event.type, event.payload) == []


def test_rescheduling_to_the_same_times_records_nothing(
        engine: sa.Engine, at: datetime, make_order: Callable[..., ServiceOrder],
        make_technician: Callable[..., Technician]) -> None:
    visit_id = make_visit(engine, make_order(), make_technician(), at)
    with session_scope(engine) as s:
        visit = s.get(Appointment, visit_id)
        assert visit is not None
        assert not reschedule(s, visit, at, at + timedelta(hours=2), changed_by="google")
    assert events(engine) == []


def test_cancelling_twice_records_one_event(
        engine: sa.Engine, at: datetime, make_order: Callable[..., ServiceOrder],
        make_technician: Callable[..., Technician]) -> None:
    visit_id = make_visit(engine, make_order(), make_technician(), at)
    for _ in range(2):
        with session_scope(engine) as s:
            visit = s.get(Appointment, visit_id)
            assert visit is not None
            cancel(s, visit, changed_by="google", source="google")
    assert [e.type for e in events(engine)] == ["appointment.cancelled"]


@pytest.mark.parametrize("status", ["completed", "no_show"])
def test_a_visit_that_is_history_cannot_be_moved_or_cancelled(
        engine: sa.Engine, at: datetime, make_order: Callable[..., ServiceOrder],
        make_technician: Callable[..., Technician], status: str) -> None:
    visit_id = make_visit(engine, make_order(), make_technician(), at, status=status)
    with session_scope(engine) as s:
        visit = s.get(Appointment, visit_id)
        assert visit is not None
        with pytest.raises(ValidationFailed, match=r"appointment\.status"):
            reschedule(s, visit, at + timedelta(days=1), at + timedelta(days=1, hours=1), changed_by="google")
        with pytest.raises(ValidationFailed, match=r"appointment\.status"):
            cancel(s, visit, changed_by="google")
