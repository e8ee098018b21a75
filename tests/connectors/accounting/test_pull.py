"""Payments made on the system's side become ``payment.received`` once; reconciliation reports mismatches."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import select

from connectors.accounting import AccountingConnector
from connectors.accounting.connector import SyncInvoiceParams, SyncPaymentParams
from connectors.accounting.pull import poll_payments
from connectors.accounting.reconcile import reconcile
from store.db import session_scope
from store.models import Event, Invoice, Payment
from store.models.accounting import AccountingSyncAudit
from store.provider_payments import Applied, take_payment
from tests.connectors.accounting.conftest import AT, Billing, call
from tests.connectors.accounting.ledger_adapter import Ledger

Make = Callable[..., Billing]


def pushed(connector: AccountingConnector, rows: Billing, key: str = "k") -> str:
    params = SyncInvoiceParams(invoice_id=rows.invoice_id)
    return str(connector.execute(call("sync_invoice", params, key))["external_id"])


def received(engine: sa.Engine) -> list[Event]:
    with session_scope(engine) as s:
        return list(s.exec(select(Event).where(Event.type == "payment.received")))


def test_a_payment_made_in_the_erp_becomes_payment_received_once_with_its_source(
        connector: AccountingConnector, ledger: Ledger, billing: Make, engine: sa.Engine) -> None:
    rows = billing(amount="99.90")
    external_id = pushed(connector, rows)
    ledger.pay(external_id, Decimal("99.90"), AT)
    adapter = connector.sync().adapter("omie")
    assert poll_payments(lambda: session_scope(engine), adapter, "omie", AT) == {"recorded": 1}
    assert poll_payments(lambda: session_scope(engine), adapter, "omie", AT + timedelta(minutes=1)) == \
        {"known": 1}
    event, = received(engine)
    assert event.source == "omie"
    assert Decimal(str(event.payload["payment"]["amount"])) == Decimal("99.90")
    with session_scope(engine) as s:
        payment, = s.exec(select(Payment))
        assert payment.amount == Decimal("99.90")
        assert s.get_one(Invoice, rows.invoice_id).status == "paid"


def test_the_next_poll_asks_from_where_the_last_one_stopped(
        connector: AccountingConnector, ledger: Ledger, engine: sa.Engine) -> None:
    adapter = connector.sync().adapter("omie")
    poll_payments(lambda: session_scope(engine), adapter, "omie", AT)
    poll_payments(lambda: session_scope(engine), adapter, "omie", AT + timedelta(hours=1))
    with session_scope(engine) as s:
        polls = list(s.exec(select(AccountingSyncAudit).where(AccountingSyncAudit.operation == "poll")
                            .order_by(AccountingSyncAudit.at)))
    assert [p.request for p in polls] == [{"since": (AT - timedelta(days=1)).isoformat()},
                                          {"since": (AT - timedelta(minutes=5)).isoformat()}]


def test_our_own_settlement_seen_again_in_the_system_is_not_taken_twice(
        connector: AccountingConnector, ledger: Ledger, billing: Make, engine: sa.Engine) -> None:
    from store.billing import record_payment

    rows = billing(amount="40.00")
    with session_scope(engine) as s:
        payment_id = record_payment(s, rows.invoice_id, "40.00", "pix", paid_at=AT).id
    settled = connector.execute(call("sync_payment", SyncPaymentParams(payment_id=payment_id)))
    external_id = ledger.codes["rule-a:event-1:0:invoice"]
    remote = ledger.pay(external_id, Decimal("40.00"), AT)
    remote = type(remote)(settled["external_id"], rows.invoice_id, external_id, Decimal("40.00"), "pix", AT)
    with session_scope(engine) as s:
        assert take_payment(s, "omie", remote) is Applied.KNOWN
    assert len(received(engine)) == 1


def test_a_payment_for_no_invoice_of_ours_is_audited_as_a_conflict(
        connector: AccountingConnector, ledger: Ledger, engine: sa.Engine) -> None:
    from connectors.accounting.adapter import RemotePayment

    stranger = RemotePayment("pay_x", None, "rec_unknown", Decimal("10.00"), "pix", AT)
    with session_scope(engine) as s:
        assert take_payment(s, "omie", stranger) is Applied.UNKNOWN_INVOICE
    with session_scope(engine) as s:
        audit, = s.exec(select(AccountingSyncAudit))
        assert (audit.direction, audit.outcome) == ("pull", "conflict")
    assert received(engine) == []


def test_reconciliation_reports_missing_and_differing_receivables(
        connector: AccountingConnector, ledger: Ledger, billing: Make, engine: sa.Engine) -> None:
    agreeing, differing, unsent = billing(amount="10.00"), billing(amount="20.00"), billing(amount="30.00")
    pushed(connector, agreeing, "a")
    changed = pushed(connector, differing, "b")
    ledger.change(changed, amount=Decimal("19.99"), due_date=date(2026, 12, 20))
    ledger.receivables["rec_9999"] = {"invoice_id": None, "status": "open", "version": 1,
                                      "amount": Decimal("5.00"), "due_date": date(2026, 12, 30)}
    report = reconcile(lambda: session_scope(engine), connector.sync().adapter("omie"), date(2026, 11, 1))
    found = {(m.kind, m.invoice_id, m.ours, m.theirs) for m in report.mismatches}
    assert found == {("amount", differing.invoice_id, "20.00", "19.99"),
                     ("due_date", differing.invoice_id, "2026-12-10", "2026-12-20"),
                     ("missing_there", unsent.invoice_id, "30.00", None),
                     ("missing_here", None, None, "5.00")}
    assert not report.ok
    with session_scope(engine) as s:
        audit = AccountingSyncAudit
        query = select(audit).where(audit.operation == "reconcile", audit.outcome == "conflict")
        conflicts = list(s.exec(query))
    assert len(conflicts) == 5  # four mismatches and the summary


def test_reconciliation_of_agreeing_sides_is_ok(
        connector: AccountingConnector, ledger: Ledger, billing: Make, engine: sa.Engine) -> None:
    pushed(connector, billing(amount="10.00", due_date=date(2026, 12, 5)))  # rolled to Monday there
    report = reconcile(lambda: session_scope(engine), connector.sync().adapter("omie"), date(2026, 11, 1))
    assert report.ok and report.to_dict()["ours"] == 1
