"""Named queries: the rows a ``for_each`` rule gets, shaped for templates and JSON."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from store.billing import issue_invoice, record_payment
from store.db import session_scope
from store.errors import ValidationFailed
from store.models import Appointment, Customer, ServiceOrder, Technician
from store.queries import QUERIES, run_query
from store.query_specs import QUERY_SPECS


def run(engine: sa.Engine, name: str, at: datetime, **params: object) -> list[dict]:
    with session_scope(engine) as s:
        rows = run_query(s, name, at, params)
    json.dumps(rows)  # JSON-friendly, or this raises
    return rows


def test_every_declared_query_is_implemented_and_nothing_else() -> None:
    assert set(QUERIES) == set(QUERY_SPECS)


def test_overdue_invoices_have_days_overdue_and_the_customer(
        engine: sa.Engine, make_order: Callable[..., ServiceOrder], at: datetime) -> None:
    order = make_order()
    with session_scope(engine) as s:
        late = issue_invoice(s, order.id, "100.00", at.date() - timedelta(days=5))
        partly = issue_invoice(s, order.id, "80.00", at.date() - timedelta(days=2))
        record_payment(s, partly.id, "30.00", "pix")
        paid = issue_invoice(s, order.id, "50.00", at.date() - timedelta(days=9))
        record_payment(s, paid.id, "50.00", "pix")
        issue_invoice(s, order.id, "70.00", at.date())  # due today: not overdue at days=1
    rows = run(engine, "invoices.overdue", at, days=1)
    assert [r["invoice"]["id"] for r in rows] == [late.id, partly.id]
    assert rows[0]["invoice"]["days_overdue"] == 5
    assert rows[1]["invoice"]["amount_due"] == 50.0
    assert rows[0]["customer"]["name"] == "Maria Souza"
    assert rows[0]["customer"]["email"] == "maria@example.com"
    assert rows[0]["order"]["id"] == order.id
    assert [r["invoice"]["id"] for r in run(engine, "invoices.overdue", at, days=3)] == [late.id]


def test_appointments_starting_within_include_technician_and_customer(
        engine: sa.Engine, make_order: Callable[..., ServiceOrder],
        make_technician: Callable[..., Technician], at: datetime) -> None:
    technician = make_technician()
    order = make_order(technician_id=technician.id, status="scheduled")
    with session_scope(engine) as s:
        s.add_all([
            Appointment(id="soon", order_id=order.id, technician_id=technician.id,
                        starts_at=at + timedelta(hours=3), ends_at=at + timedelta(hours=4)),
            Appointment(id="later", order_id=order.id, starts_at=at + timedelta(hours=30),
                        ends_at=at + timedelta(hours=31)),
            Appointment(id="cancelled", order_id=order.id, status="cancelled",
                        starts_at=at + timedelta(hours=2), ends_at=at + timedelta(hours=3)),
            Appointment(id="past", order_id=order.id, starts_at=at - timedelta(hours=1),
                        ends_at=at),
        ])
    rows = run(engine, "appointments.starting_within", at, hours=24)
    assert [r["appointment"]["id"] for r in rows] == ["soon"]
    row = rows[0]
    assert row["appointment"]["minutes_until_start"] == 180
    assert row["appointment"]["starts_at"] == "2026-12-01T15:00:00+00:00"
    assert row["technician"]["name"] == "João Lima"
    assert row["customer"]["phone"] == "+5511987654321"
    assert [r["appointment"]["id"] for r in run(engine, "appointments.starting_within", at, hours=48)] \
        == ["soon", "later"]
    assert run(engine, "appointments.starting_within", at, hours=48)[1]["technician"] is None


def test_sla_at_risk_lists_live_orders_due_within_the_window(
        engine: sa.Engine, make_order: Callable[..., ServiceOrder],
        make_technician: Callable[..., Technician], at: datetime) -> None:
    technician = make_technician()
    risky = make_order(sla_due_at=at + timedelta(hours=2))
    make_order(sla_due_at=at + timedelta(hours=10))
    make_order(sla_due_at=at + timedelta(hours=1), technician_id=technician.id, status="completed")
    breached = make_order(sla_due_at=at - timedelta(hours=1))
    rows = run(engine, "service_orders.sla_at_risk", at, hours=4)
    assert [r["order"]["id"] for r in rows] == [risky.id]
    assert rows[0]["order"]["hours_left"] == 2.0
    assert rows[0]["technician"] is None
    with_breached = run(engine, "service_orders.sla_at_risk", at, hours=4, include_breached=True)
    assert [r["order"]["id"] for r in with_breached] == [breached.id, risky.id]


def test_unassigned_lists_open_orders_older_than_the_duration(
        engine: sa.Engine, make_order: Callable[..., ServiceOrder],
        make_technician: Callable[..., Technician], at: datetime) -> None:
    technician = make_technician()
    old = make_order(created_at=at - timedelta(hours=3))
    make_order(created_at=at - timedelta(minutes=30))
    make_order(created_at=at - timedelta(hours=5), technician_id=technician.id, status="assigned")
    make_order(created_at=at - timedelta(hours=5), status="cancelled")
    rows = run(engine, "service_orders.unassigned", at, older_than="2h")
    assert [r["order"]["id"] for r in rows] == [old.id]
    assert rows[0]["order"]["waiting_hours"] == 3.0
    assert rows[0]["customer"]["name"] == "Maria Souza"


def test_deleted_customers_orders_still_show_but_deleted_orders_do_not(
        engine: sa.Engine, make_order: Callable[..., ServiceOrder], at: datetime) -> None:
    make_order(created_at=at - timedelta(hours=3), deleted_at=at - timedelta(hours=1))
    assert run(engine, "service_orders.unassigned", at, older_than="2h") == []


def test_bad_params_name_the_parameter(engine: sa.Engine, at: datetime) -> None:
    with pytest.raises(ValidationFailed) as caught:
        run(engine, "invoices.overdue", at, days=-1)
    assert caught.value.field == "params.days"
    with pytest.raises(ValidationFailed) as caught:
        run(engine, "service_orders.unassigned", at, older_than="two hours")
    assert caught.value.field == "params.older_than"
    with pytest.raises(ValidationFailed, match="unknown query"):
        run(engine, "invoices.all", at)


def test_naive_at_is_refused(engine: sa.Engine) -> None:
    with pytest.raises(ValidationFailed) as caught:
        run(engine, "invoices.overdue", datetime(2026, 12, 1))
    assert caught.value.field == "at"


def test_customer_fields_templates_need_are_present(
        engine: sa.Engine, make_customer: Callable[..., Customer],
        make_order: Callable[..., ServiceOrder], at: datetime) -> None:
    customer = make_customer(preferred_channel="email", opt_outs=["sms"])
    make_order(customer_id=customer.id, created_at=at - timedelta(days=1))
    [row] = run(engine, "service_orders.unassigned", at, older_than="1h")
    assert {"id", "name", "email", "phone", "preferred_channel", "opt_outs", "time_zone"} \
        <= set(row["customer"])
    assert row["customer"]["opt_outs"] == ["sms"]


def test_open_for_customer_lists_only_that_customers_live_orders(
        engine: sa.Engine, make_order: Callable[..., ServiceOrder],
        make_customer: Callable[..., Customer], at: datetime) -> None:
    first = make_order(created_at=at - timedelta(days=3))
    customer_id = first.customer_id
    second = make_order(customer_id=customer_id, created_at=at - timedelta(days=1))
    make_order(customer_id=customer_id, status="cancelled")
    make_order(customer_id=customer_id, deleted_at=at)
    make_order()  # another customer's
    rows = run(engine, "service_orders.open_for_customer", at, customer_id=customer_id)
    assert [r["order"]["id"] for r in rows] == [first.id, second.id]
    assert rows[0]["order"]["age_days"] == 3
    assert rows[0]["customer"]["id"] == customer_id
    assert run(engine, "service_orders.open_for_customer", at, customer_id="nobody") == []


def test_appointments_of_day_take_the_day_on_the_zone_of_at(
        engine: sa.Engine, make_order: Callable[..., ServiceOrder],
        make_technician: Callable[..., Technician], at: datetime) -> None:
    joao = make_technician()
    ana = make_technician(name="Ana Reis", phone="+5511955554444")
    order = make_order(technician_id=joao.id, status="scheduled")
    local = at.astimezone(ZoneInfo("America/Sao_Paulo"))  # 09:00 on 2026-12-01 in São Paulo
    with session_scope(engine) as s:
        s.add_all([
            # 23:30 local on the 1st is 02:30 UTC on the 2nd: still the 1st in São Paulo
            Appointment(id="late", order_id=order.id, technician_id=joao.id,
                        starts_at=datetime(2026, 12, 2, 2, 30, tzinfo=UTC),
                        ends_at=datetime(2026, 12, 2, 3, 30, tzinfo=UTC)),
            Appointment(id="morning", order_id=order.id, technician_id=ana.id,
                        starts_at=datetime(2026, 12, 1, 11, 0, tzinfo=UTC),
                        ends_at=datetime(2026, 12, 1, 12, 0, tzinfo=UTC)),
            Appointment(id="cancelled", order_id=order.id, technician_id=joao.id, status="cancelled",
                        starts_at=datetime(2026, 12, 1, 13, 0, tzinfo=UTC),
                        ends_at=datetime(2026, 12, 1, 14, 0, tzinfo=UTC)),
            Appointment(id="nobody", order_id=order.id,
                        starts_at=datetime(2026, 12, 1, 18, 0, tzinfo=UTC),
                        ends_at=datetime(2026, 12, 1, 19, 0, tzinfo=UTC)),
            Appointment(id="tomorrow", order_id=order.id, technician_id=joao.id,
                        starts_at=datetime(2026, 12, 2, 12, 0, tzinfo=UTC),
                        ends_at=datetime(2026, 12, 2, 13, 0, tzinfo=UTC)),
        ])
    rows = run(engine, "appointments.of_day", local)
    assert [r["appointment"]["id"] for r in rows] == ["morning", "nobody", "late"]
    assert [r["appointment"]["id"] for r in run(engine, "appointments.of_day", local, assigned_only=True)] \
        == ["morning", "late"]
    assert rows[0]["appointment"]["local_start"] == "08:00"
    assert rows[2]["appointment"]["local_start"] == "23:30"
    assert rows[2]["appointment"]["day"] == "2026-12-01"
    assert rows[0]["technician"]["name"] == "Ana Reis"
    only_joao = run(engine, "appointments.of_day", local, technician_id=joao.id)
    assert [r["appointment"]["id"] for r in only_joao] == ["late"]
    assert [r["appointment"]["id"] for r in run(engine, "appointments.of_day", local, day="tomorrow")] \
        == ["tomorrow"]
    assert [r["appointment"]["id"] for r in run(engine, "appointments.of_day", local, day="2026-12-02")] \
        == ["tomorrow"]
    # at in UTC: the 2nd starts at 00:00 UTC, so "late" belongs to the 2nd there
    assert [r["appointment"]["id"] for r in run(engine, "appointments.of_day", at)] == ["morning", "nobody"]


def test_appointments_of_day_refuse_a_day_that_is_not_one(engine: sa.Engine, at: datetime) -> None:
    with pytest.raises(ValidationFailed, match="not a day"):
        run(engine, "appointments.of_day", at, day="yesterday")
    with pytest.raises(ValidationFailed, match="not a day"):
        run(engine, "appointments.of_day", at, day="2026-02-30")
