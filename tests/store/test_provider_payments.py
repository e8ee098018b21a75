"""What a payment provider reports, applied once and in any order, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlmodel import select

from connectors.accounting.adapter import RemotePayment
from store.billing import issue_invoice, record_overdue_events
from store.db import session_scope
from store.models import Event, Invoice, Payment, ServiceOrder
from store.provider_payments import Applied, note_overdue, take_payment, take_receipt, take_refund


@pytest.fixture
def invoice(engine: sa.Engine, make_order: Callable[..., ServiceOrder], at: datetime) -> Invoice:
    order = make_order()
    with session_scope(engine) as s:
        return issue_invoice(s, order.id, "300.00", at.date() - timedelta(days=2), at=at)


def pay(engine: sa.Engine, invoice: Invoice, at: datetime, charge: str = "pay_1",
        amount: str = "300.00") -> Applied:
    with session_scope(engine) as s:
        return take_payment(s, "asaas", RemotePayment(charge, invoice.id, charge, Decimal(amount), "pix", at))


def events(engine: sa.Engine) -> list[tuple[str, str]]:
    with session_scope(engine) as s:
        return [(e.type, e.source) for e in s.exec(select(Event).order_by(Event.recorded_at))
                if e.type != "invoice.issued"]


def reread(engine: sa.Engine, invoice: Invoice) -> tuple[Invoice, list[Payment]]:
    with session_scope(engine) as s:
        return (s.exec(select(Invoice).where(Invoice.id == invoice.id)).one(),
                list(s.exec(select(Payment).where(Payment.invoice_id == invoice.id))))


def test_a_delivery_id_is_taken_once(engine: sa.Engine) -> None:
    with session_scope(engine) as s:
        assert take_receipt(s, "asaas", "evt_1", "PAYMENT_RECEIVED") is True
    with session_scope(engine) as s:
        assert take_receipt(s, "asaas", "evt_1", "PAYMENT_RECEIVED") is False
        assert take_receipt(s, "omie", "evt_1", "PAYMENT_RECEIVED") is True  # another system's ids


def test_a_provider_payment_is_recorded_once_with_its_source(
        engine: sa.Engine, invoice: Invoice, at: datetime) -> None:
    assert pay(engine, invoice, at) is Applied.RECORDED
    assert pay(engine, invoice, at) is Applied.KNOWN
    stored, payments = reread(engine, invoice)
    assert stored.status == "paid" and len(payments) == 1
    assert payments[0].external_ids == {"asaas": "pay_1", "asaas_value": "300.00"}
    assert events(engine) == [("payment.received", "asaas"), ("invoice.paid", "asaas")]


def test_a_payment_for_no_invoice_of_ours_changes_nothing(engine: sa.Engine, at: datetime) -> None:
    with session_scope(engine) as s:
        ghost = RemotePayment("pay_1", "ghost", None, Decimal("1"), "pix", at)
        assert take_payment(s, "asaas", ghost) is Applied.UNKNOWN_INVOICE
        nameless = RemotePayment("pay_1", None, None, Decimal("1"), "pix", at)
        assert take_payment(s, "asaas", nameless) is Applied.UNKNOWN_INVOICE
    assert events(engine) == []


def test_overdue_shares_the_daily_jobs_event_id(engine: sa.Engine, invoice: Invoice, at: datetime) -> None:
    with session_scope(engine) as s:
        assert record_overdue_events(s, at, days=1) == 1
    with session_scope(engine) as s:
        assert note_overdue(s, "asaas", invoice.id, at) is Applied.KNOWN
    with session_scope(engine) as s:
        assert note_overdue(s, "asaas", invoice.id, at + timedelta(days=1)) is Applied.RECORDED
    assert events(engine) == [("invoice.overdue", "despacho"), ("invoice.overdue", "asaas")]


def test_overdue_on_a_paid_invoice_is_closed(engine: sa.Engine, invoice: Invoice, at: datetime) -> None:
    pay(engine, invoice, at)
    with session_scope(engine) as s:
        assert note_overdue(s, "asaas", invoice.id, at) is Applied.CLOSED
    assert reread(engine, invoice)[0].status == "paid"


def test_a_refund_applies_once_and_the_invoice_is_no_longer_dunned(
        engine: sa.Engine, invoice: Invoice, at: datetime) -> None:
    pay(engine, invoice, at, amount="300.00")
    for expected in (Applied.RECORDED, Applied.KNOWN):
        with session_scope(engine) as s:
            assert take_refund(s, "asaas", external_id="pay_1", invoice_id=invoice.id, amount=None,
                               refunded_at=at) is expected
    stored, payments = reread(engine, invoice)
    assert (stored.status, stored.amount_paid, stored.paid_at) == ("refunded", Decimal("0.00"), None)
    assert payments[0].external_ids["asaas_refund"]["amount"] == "300.00"
    with session_scope(engine) as s:
        assert record_overdue_events(s, at + timedelta(days=5), days=1) == 0
        assert pay(engine, invoice, at, charge="pay_2") is Applied.CLOSED


def test_a_partial_refund_to_the_centavo(engine: sa.Engine, invoice: Invoice, at: datetime) -> None:
    pay(engine, invoice, at)
    with session_scope(engine) as s:
        take_refund(s, "asaas", external_id="pay_1", invoice_id=invoice.id, amount=Decimal("100.01"),
                    refunded_at=at)
    stored, _ = reread(engine, invoice)
    assert (stored.status, stored.amount_paid) == ("refunded", Decimal("199.99"))


@pytest.mark.parametrize("engine", ["postgresql"], indirect=True)
def test_received_and_confirmed_racing_each_other_make_one_payment(
        engine: sa.Engine, invoice: Invoice, at: datetime) -> None:
    start = threading.Barrier(4)
    outcomes: list[Applied] = []

    def deliver(n: int) -> None:
        start.wait()
        with session_scope(engine) as s:
            if take_receipt(s, "asaas", f"evt_{n}", "PAYMENT_RECEIVED"):
                paid = RemotePayment("pay_1", invoice.id, "pay_1", Decimal("120.50"), "pix", at)
                outcomes.append(take_payment(s, "asaas", paid))

    threads = [threading.Thread(target=deliver, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert sorted(outcomes) == sorted([Applied.RECORDED] + [Applied.KNOWN] * 3)
    stored, payments = reread(engine, invoice)
    assert len(payments) == 1 and stored.amount_paid == Decimal("120.50")
