"""Every write goes through the flush checks: bad values are refused, nothing is half-written."""

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import select

from store.db import session_scope
from store.errors import ValidationFailed
from store.models import Customer, Event, Invoice, ServiceOrder, Technician


def count(engine: sa.Engine, model: type) -> int:
    with session_scope(engine) as s:
        return s.exec(select(sa.func.count()).select_from(model)).one()


def test_customer_phone_and_email_are_stored_canonical(engine: sa.Engine) -> None:
    with session_scope(engine) as s:
        s.add(Customer(id="c1", name="Ana", phone="(21) 99876-5432", email="ana@EXAMPLE.com"))
    with session_scope(engine) as s:
        stored = s.get(Customer, "c1")
        assert stored is not None
        assert (stored.phone, stored.email) == ("+5521998765432", "ana@example.com")


@pytest.mark.parametrize(("fields", "field"), [
    ({"phone": "12345"}, "customer.phone"),
    ({"email": "not-an-email"}, "customer.email"),
    ({"tier": "gold"}, "customer.tier"),
    ({"opt_outs": ["fax"]}, "customer.opt_outs"),
    ({"name": " "}, "customer.name"),
])
def test_bad_customer_is_refused_naming_the_field_and_not_written(
        engine: sa.Engine, fields: dict, field: str) -> None:
    with pytest.raises(ValidationFailed) as caught, session_scope(engine) as s:
        s.add(Customer(**{"name": "Ana", **fields}))
    assert caught.value.field == field
    assert count(engine, Customer) == 0


def test_order_with_unknown_customer_is_refused_naming_the_field(engine: sa.Engine) -> None:
    with pytest.raises(ValidationFailed, match="no customer with id 'ghost'") as caught, \
            session_scope(engine) as s:
        s.add(ServiceOrder(customer_id="ghost", region="sp"))
    assert caught.value.field == "service_order.customer_id"


def test_order_with_unknown_technician_is_refused(make_order: Callable[..., ServiceOrder],
                                                  engine: sa.Engine) -> None:
    order = make_order()
    with pytest.raises(ValidationFailed) as caught, session_scope(engine) as s:
        stored = s.get(ServiceOrder, order.id)
        assert stored is not None
        stored.technician_id = "ghost"
    assert caught.value.field == "service_order.technician_id"
    with session_scope(engine) as s:
        assert s.get(ServiceOrder, order.id).technician_id is None  # type: ignore[union-attr]


def test_invoice_amount_with_three_decimals_is_refused(make_order: Callable[..., ServiceOrder],
                                                       engine: sa.Engine, at: datetime) -> None:
    order = make_order()
    with pytest.raises(ValidationFailed, match="two decimal places") as caught, session_scope(engine) as s:
        s.add(Invoice(number="F-1", order_id=order.id, amount="10.001", due_date=at.date()))
    assert caught.value.field == "invoice.amount"


def test_negative_order_amount_is_refused(make_customer: Callable[..., Customer],
                                          engine: sa.Engine) -> None:
    customer = make_customer()
    with pytest.raises(ValidationFailed, match="negative"), session_scope(engine) as s:
        s.add(ServiceOrder(customer_id=customer.id, region="sp", amount=Decimal("-5")))


def test_naive_timestamp_is_refused(make_customer: Callable[..., Customer], engine: sa.Engine) -> None:
    customer = make_customer()
    with pytest.raises(ValidationFailed, match="time zone") as caught, session_scope(engine) as s:
        s.add(ServiceOrder(customer_id=customer.id, region="sp", sla_due_at=datetime(2026, 1, 1)))
    assert caught.value.field == "service_order.sla_due_at"


def test_one_bad_row_rolls_back_the_whole_transaction(engine: sa.Engine, at: datetime) -> None:
    with pytest.raises(ValidationFailed), session_scope(engine) as s:
        s.add(Customer(name="Good", phone="+5511987654321"))
        s.add(Event(id="e1", type="x", occurred_at=at))
        s.add(Customer(name="Bad", phone="0"))
    assert count(engine, Customer) == 0
    assert count(engine, Event) == 0


def test_timestamps_come_back_tz_aware_in_utc(make_order: Callable[..., ServiceOrder],
                                              engine: sa.Engine, at: datetime) -> None:
    order = make_order(sla_due_at=at.astimezone(ZoneInfo("America/Sao_Paulo")))
    with session_scope(engine) as s:
        stored = s.get(ServiceOrder, order.id)
        assert stored is not None
        assert stored.sla_due_at == at
        assert stored.sla_due_at.utcoffset() == timedelta(0)


def test_technician_working_hours_must_be_well_formed(engine: sa.Engine) -> None:
    with pytest.raises(ValidationFailed) as caught, session_scope(engine) as s:
        s.add(Technician(name="T", region="sp", working_hours={"mon": ["18:00", "08:00"]}))
    assert caught.value.field == "technician.working_hours.mon"
