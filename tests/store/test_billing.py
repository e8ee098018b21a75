from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlmodel import select

from store.billing import issue_invoice, record_overdue_events, record_payment
from store.db import session_scope
from store.errors import ValidationFailed
from store.models import Event, Invoice, Payment, ServiceOrder


def event_types(engine: sa.Engine) -> list[str]:
    with session_scope(engine) as s:
        return [e.type for e in s.exec(select(Event).order_by(Event.recorded_at))]


@pytest.fixture
def invoice(engine: sa.Engine, make_order: Callable[..., ServiceOrder], at: datetime) -> Invoice:
    order = make_order()
    with session_scope(engine) as s:
        return issue_invoice(s, order.id, "300.00", at.date() + timedelta(days=10), at=at)


def test_issuing_an_invoice_records_invoice_issued(engine: sa.Engine, invoice: Invoice) -> None:
    assert invoice.number.startswith("FAT-202612-")
    assert event_types(engine) == ["invoice.issued"]


def test_invoice_for_unknown_order_names_the_field(engine: sa.Engine, at: datetime) -> None:
    with pytest.raises(ValidationFailed) as caught, session_scope(engine) as s:
        issue_invoice(s, "ghost", "10", at.date())
    assert caught.value.field == "invoice.order_id"


def test_partial_then_full_payment_settles_the_invoice(engine: sa.Engine, invoice: Invoice) -> None:
    with session_scope(engine) as s:
        record_payment(s, invoice.id, "100.00", "pix")
    with session_scope(engine) as s:
        assert s.get(Invoice, invoice.id).status == "partially_paid"  # type: ignore[union-attr]
        record_payment(s, invoice.id, Decimal("200"), "boleto")
    with session_scope(engine) as s:
        stored = s.get(Invoice, invoice.id)
        assert stored is not None
        assert (stored.status, stored.amount_paid) == ("paid", Decimal("300.00"))
        assert stored.paid_at is not None
    assert event_types(engine) == ["invoice.issued", "payment.received", "payment.received", "invoice.paid"]


@pytest.mark.parametrize(("amount", "method", "field", "why"), [
    ("300.01", "pix", "payment.amount", "more than the 300.00 still due"),
    ("0", "pix", "payment.amount", "more than zero"),
    ("-3", "pix", "payment.amount", "negative"),
    ("10", "cheque", "payment.method", "not one of"),
])
def test_bad_payment_is_refused_and_invoice_untouched(engine: sa.Engine, invoice: Invoice,
                                                      amount: str, method: str, field: str,
                                                      why: str) -> None:
    with pytest.raises(ValidationFailed, match=why) as caught, session_scope(engine) as s:
        record_payment(s, invoice.id, amount, method)
    assert caught.value.field == field
    with session_scope(engine) as s:
        assert s.get(Invoice, invoice.id).amount_paid == Decimal("0.00")  # type: ignore[union-attr]
        assert s.exec(select(Payment)).all() == []


def test_payment_for_unknown_invoice_names_the_field(engine: sa.Engine) -> None:
    with pytest.raises(ValidationFailed) as caught, session_scope(engine) as s:
        record_payment(s, "ghost", "10", "pix")
    assert caught.value.field == "payment.invoice_id"


def test_overdue_events_are_recorded_once_a_day(engine: sa.Engine, invoice: Invoice,
                                                at: datetime) -> None:
    later = at + timedelta(days=12)
    with session_scope(engine) as s:
        assert record_overdue_events(s, later) == 1
    with session_scope(engine) as s:
        assert record_overdue_events(s, later + timedelta(hours=1)) == 0
    with session_scope(engine) as s:
        assert record_overdue_events(s, later + timedelta(days=1)) == 1
        overdue = s.exec(select(Event).where(Event.type == "invoice.overdue")).all()
    assert overdue[0].payload["invoice"]["days_overdue"] == 2
