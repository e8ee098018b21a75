"""Assignment and status changes: the right technician, the right events, nothing half-written."""

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from errors import PermanentError
from store.db import session_scope
from store.errors import IllegalTransition, NotFound, ValidationFailed
from store.models import Appointment, Customer, Event, ServiceOrder, Technician
from store.service_orders import assign_technician, create_order, set_status

Make = Callable[..., object]


def events(engine: sa.Engine, event_type: str | None = None) -> list[Event]:
    with session_scope(engine) as s:
        statement = select(Event).order_by(Event.recorded_at)
        if event_type:
            statement = statement.where(Event.type == event_type)
        return list(s.exec(statement))


def assign(engine: sa.Engine, order_id: str, strategy: str = "least_loaded",
           at: datetime | None = None) -> Technician:
    with session_scope(engine) as s:
        return assign_technician(s, order_id, strategy, at=at).technician


def test_create_order_records_created_event_with_customer(
        engine: sa.Engine, make_customer: Callable[..., Customer]) -> None:
    customer = make_customer()
    with session_scope(engine) as s:
        order = create_order(s, customer_id=customer.id, region="sp", amount="99.9")
    [event] = events(engine, "service_order.created")
    assert event.payload["order"]["id"] == order.id
    assert event.payload["order"]["amount"] == 99.9
    assert event.payload["customer"]["phone"] == "+5511987654321"


def test_create_order_for_unknown_customer_names_the_field(engine: sa.Engine) -> None:
    with pytest.raises(ValidationFailed) as caught, session_scope(engine) as s:
        create_order(s, customer_id="ghost", region="sp")
    assert caught.value.field == "service_order.customer_id"
    assert events(engine) == []


def test_least_loaded_picks_the_technician_with_fewest_open_orders(
        engine: sa.Engine, make_technician: Callable[..., Technician],
        make_order: Callable[..., ServiceOrder]) -> None:
    busy = make_technician(name="Ana Busy", phone="+5511911111111")
    idle = make_technician(name="Zeca Idle", phone="+5511922222222")
    for _ in range(2):
        make_order(technician_id=busy.id, status="assigned", scheduled_start=None, scheduled_end=None)
    make_order(technician_id=idle.id, status="completed", scheduled_start=None, scheduled_end=None)
    order = make_order()
    assert assign(engine, order.id).id == idle.id


def test_round_robin_takes_turns(engine: sa.Engine, make_technician: Callable[..., Technician],
                                 make_order: Callable[..., ServiceOrder], at: datetime) -> None:
    first = make_technician(name="Ana", phone="+5511911111111")
    second = make_technician(name="Bia", phone="+5511922222222")
    picks = []
    for hour in range(3):
        order = make_order(scheduled_start=None, scheduled_end=None)
        picks.append(assign(engine, order.id, "round_robin", at=at + timedelta(hours=hour)).id)
    assert picks == [first.id, second.id, first.id]


@pytest.mark.parametrize(("technician", "reason"), [
    ({"active": False}, "inactive"),
    ({"skills": ["hidraulica"]}, "missing skills"),
    ({"region": "rj-centro"}, "other region"),
    ({"working_hours": {"sat": ["08:00", "12:00"]}}, "outside working hours"),
])
def test_ineligible_technician_is_not_chosen_and_the_error_says_why(
        engine: sa.Engine, make_technician: Callable[..., Technician],
        make_order: Callable[..., ServiceOrder], technician: dict, reason: str) -> None:
    make_technician(**technician)
    order = make_order()
    with pytest.raises(PermanentError, match=reason) as caught:
        assign(engine, order.id)
    assert caught.value.code == "no_eligible_technician"


def test_technician_busy_at_the_scheduled_time_is_skipped(
        engine: sa.Engine, make_technician: Callable[..., Technician],
        make_order: Callable[..., ServiceOrder], at: datetime) -> None:
    booked = make_technician(name="Ana", phone="+5511911111111")
    free = make_technician(name="Bia", phone="+5511922222222")
    make_order(technician_id=booked.id, status="scheduled",
               scheduled_start=at + timedelta(hours=3), scheduled_end=at + timedelta(hours=5))
    make_order(technician_id=free.id, status="scheduled",  # ends as ours starts: no overlap
               scheduled_start=at, scheduled_end=at + timedelta(hours=2))
    make_order(technician_id=free.id, status="assigned", scheduled_start=None, scheduled_end=None)
    order = make_order()  # 14:00-16:00
    assert assign(engine, order.id).id == free.id


def test_visit_of_another_order_makes_the_technician_busy(
        engine: sa.Engine, make_technician: Callable[..., Technician],
        make_order: Callable[..., ServiceOrder], at: datetime) -> None:
    technician = make_technician()
    other = make_order(scheduled_start=None, scheduled_end=None)
    with session_scope(engine) as s:
        s.add(Appointment(order_id=other.id, technician_id=technician.id,
                          starts_at=at + timedelta(hours=1), ends_at=at + timedelta(hours=3)))
    order = make_order()
    with pytest.raises(PermanentError, match="busy at the scheduled time: 1"):
        assign(engine, order.id)


def test_working_hours_are_read_in_the_technicians_time_zone(
        engine: sa.Engine, make_technician: Callable[..., Technician],
        make_order: Callable[..., ServiceOrder], at: datetime) -> None:
    # at = Tue 12:00 UTC = 09:00 in São Paulo
    technician = make_technician(working_hours={"tue": ["08:00", "12:00"]})
    order = make_order(scheduled_start=at, scheduled_end=at + timedelta(hours=2))
    assert assign(engine, order.id).id == technician.id


def test_assignment_records_event_and_moves_to_assigned(
        engine: sa.Engine, make_technician: Callable[..., Technician],
        make_order: Callable[..., ServiceOrder]) -> None:
    technician = make_technician()
    order = make_order()
    assign(engine, order.id)
    with session_scope(engine) as s:
        stored = s.get(ServiceOrder, order.id)
        assert stored is not None
        assert (stored.status, stored.technician_id) == ("assigned", technician.id)
        assert s.get(Technician, technician.id).last_assigned_at is not None  # type: ignore[union-attr]
    [event] = events(engine, "service_order.assigned")
    assert event.payload["technician"]["name"] == "João Lima"
    assert event.payload["customer"]["name"] == "Maria Souza"
    assert event.payload["previous_status"] == "open"


def test_reassigning_a_scheduled_order_keeps_it_scheduled_and_moves_its_visit(
        engine: sa.Engine, make_technician: Callable[..., Technician],
        make_order: Callable[..., ServiceOrder], at: datetime) -> None:
    old = make_technician(name="Ana", phone="+5511911111111", active=False)
    new = make_technician(name="Bia", phone="+5511922222222")
    order = make_order(technician_id=old.id, status="scheduled")
    with session_scope(engine) as s:
        s.add(Appointment(id="v1", order_id=order.id, technician_id=old.id,
                          starts_at=at + timedelta(hours=2), ends_at=at + timedelta(hours=4)))
    assert assign(engine, order.id).id == new.id
    with session_scope(engine) as s:
        assert s.get(ServiceOrder, order.id).status == "scheduled"  # type: ignore[union-attr]
        assert s.get(Appointment, "v1").technician_id == new.id  # type: ignore[union-attr]


def test_the_first_assignment_time_is_kept_when_the_order_is_reassigned(
        engine: sa.Engine, make_technician: Callable[..., Technician],
        make_order: Callable[..., ServiceOrder], at: datetime) -> None:
    make_technician()
    order = make_order()
    with session_scope(engine) as s:
        assign_technician(s, order.id, at=at)
    with session_scope(engine) as s:
        assign_technician(s, order.id, at=at + timedelta(hours=3))
    with session_scope(engine) as s:
        assert s.get(ServiceOrder, order.id).assigned_at == at  # type: ignore[union-attr]


def test_no_eligible_technician_changes_nothing(
        engine: sa.Engine, make_order: Callable[..., ServiceOrder]) -> None:
    order = make_order()
    with pytest.raises(PermanentError):
        assign(engine, order.id)
    with session_scope(engine) as s:
        assert s.get(ServiceOrder, order.id).status == "open"  # type: ignore[union-attr]
    assert events(engine) == []


def test_completed_order_cannot_be_assigned(
        engine: sa.Engine, make_technician: Callable[..., Technician],
        make_order: Callable[..., ServiceOrder]) -> None:
    technician = make_technician()
    order = make_order(technician_id=technician.id, status="completed")
    with pytest.raises(IllegalTransition, match="from 'completed' to 'assigned'"):
        assign(engine, order.id)


def test_unknown_strategy_and_unknown_order_are_refused(engine: sa.Engine) -> None:
    with pytest.raises(ValidationFailed, match="least_loaded, round_robin"):
        assign(engine, "x", "fastest")
    with pytest.raises(NotFound) as caught:
        assign(engine, "ghost")
    assert caught.value.field == "order_id"


def test_status_walk_records_status_changed_and_completed(
        engine: sa.Engine, make_technician: Callable[..., Technician],
        make_order: Callable[..., ServiceOrder], at: datetime) -> None:
    technician = make_technician()
    order = make_order(technician_id=technician.id, status="assigned")
    for status in ("scheduled", "in_progress", "completed"):
        with session_scope(engine) as s:
            set_status(s, order.id, status, at=at)
    changes = events(engine, "service_order.status_changed")
    assert [e.payload["status"] for e in changes] == ["scheduled", "in_progress", "completed"]
    [done] = events(engine, "service_order.completed")
    assert done.payload["previous_status"] == "in_progress"
    with session_scope(engine) as s:
        assert s.get(ServiceOrder, order.id).completed_at == at  # type: ignore[union-attr]


def test_setting_the_same_status_again_is_a_no_op(
        engine: sa.Engine, make_order: Callable[..., ServiceOrder]) -> None:
    order = make_order()
    with session_scope(engine) as s:
        change = set_status(s, order.id, "open")
    assert not change.changed
    assert events(engine) == []


def test_illegal_status_change_is_refused_and_nothing_written(
        engine: sa.Engine, make_order: Callable[..., ServiceOrder]) -> None:
    order = make_order()
    with pytest.raises(IllegalTransition) as caught, session_scope(engine) as s:
        set_status(s, order.id, "completed", "done already")
    assert caught.value.allowed == ("assigned", "cancelled", "on_hold")
    with session_scope(engine) as s:
        assert s.get(ServiceOrder, order.id).status == "open"  # type: ignore[union-attr]
    assert events(engine) == []


def test_back_to_open_releases_the_technician(
        engine: sa.Engine, make_technician: Callable[..., Technician],
        make_order: Callable[..., ServiceOrder]) -> None:
    technician = make_technician()
    order = make_order(technician_id=technician.id, status="assigned")
    with session_scope(engine) as s:
        set_status(s, order.id, "open", "customer asked for another day")
    with session_scope(engine) as s:
        stored = s.get(ServiceOrder, order.id)
        assert stored is not None
        assert (stored.technician_id, stored.status_reason) == (None, "customer asked for another day")


def test_cancelling_cancels_the_live_visits(
        engine: sa.Engine, make_technician: Callable[..., Technician],
        make_order: Callable[..., ServiceOrder], at: datetime) -> None:
    technician = make_technician()
    order = make_order(technician_id=technician.id, status="scheduled")
    with session_scope(engine) as s:
        s.add(Appointment(id="v1", order_id=order.id, technician_id=technician.id,
                          starts_at=at, ends_at=at + timedelta(hours=1)))
    with session_scope(engine) as s:
        set_status(s, order.id, "cancelled", "duplicate")
    with session_scope(engine) as s:
        assert s.get(Appointment, "v1").status == "cancelled"  # type: ignore[union-attr]
    assert [e.type for e in events(engine)] == ["service_order.status_changed", "service_order.cancelled"]
