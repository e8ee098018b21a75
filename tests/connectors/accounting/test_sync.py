"""Orchestration against the ledger system: records, audit, idempotency, conflicts, errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import select

from connectors.accounting import AccountingConnector, AccountingSettings
from connectors.accounting.connector import (
    CancelInvoiceParams,
    IssueServiceInvoiceParams,
    RefundPaymentParams,
    SyncCustomerParams,
    SyncInvoiceParams,
    SyncPaymentParams,
)
from connectors.base import Runtime
from errors import PermanentError, TransientError
from store.db import session_scope
from store.models import Invoice, Payment
from store.models.accounting import AccountingConflict, AccountingSyncAudit, AccountingSyncRecord
from tests.connectors.accounting.conftest import AT, Billing, call
from tests.connectors.accounting.ledger_adapter import Ledger

Make = Callable[..., Billing]


def records(engine: sa.Engine, entity: str | None = None) -> list[AccountingSyncRecord]:
    with session_scope(engine) as s:
        query = select(AccountingSyncRecord)
        if entity:
            query = query.where(AccountingSyncRecord.entity_type == entity)
        return list(s.exec(query))


def audits(engine: sa.Engine) -> list[AccountingSyncAudit]:
    with session_scope(engine) as s:
        return list(s.exec(select(AccountingSyncAudit).order_by(AccountingSyncAudit.at)))


def test_invoice_sync_pushes_the_customer_first_then_the_receivable(
        connector: AccountingConnector, ledger: Ledger, billing: Make, engine: sa.Engine) -> None:
    rows = billing(amount="1234.56")
    outputs = connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=rows.invoice_id)))
    assert ledger.calls == ["upsert_customer", "push_invoice"]
    external_id = outputs["external_id"]
    assert outputs["pix_payload"] == f"00020126PIX{external_id}"
    assert outputs["boleto_line"].startswith("34191.")
    assert ledger.receivables[external_id]["amount"] == Decimal("1234.56")
    with session_scope(engine) as s:
        assert s.get_one(Invoice, rows.invoice_id).external_ids == {"omie": external_id}
    invoice_record, = records(engine, "invoice")
    assert (invoice_record.status, invoice_record.attempts) == ("synced", 1)
    assert invoice_record.remote_version == "1"
    assert invoice_record.synced_fields is not None
    assert invoice_record.synced_fields["amount"] == "1234.56"
    customer = ledger.customers[f"customer:{rows.customer_id}"]
    assert records(engine, "customer")[0].external_id == customer["id"]


def test_a_second_invoice_of_the_customer_does_not_push_the_customer_again(
        connector: AccountingConnector, ledger: Ledger, billing: Make, engine: sa.Engine) -> None:
    first = billing()
    connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=first.invoice_id), "k1"))
    with session_scope(engine) as s:
        from store.billing import issue_invoice

        second = issue_invoice(s, first.order_id, "10.00", date(2026, 12, 10), at=AT).id
    connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=second), "k2"))
    assert ledger.calls == ["upsert_customer", "push_invoice", "push_invoice"]


def test_a_redelivered_step_returns_its_first_outputs_and_calls_nobody(
        connector: AccountingConnector, ledger: Ledger, billing: Make) -> None:
    rows = billing()
    first = connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=rows.invoice_id)))
    calls = list(ledger.calls)
    assert connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=rows.invoice_id))) == first
    assert ledger.calls == calls


def test_a_retry_after_a_lost_response_creates_nothing_twice(
        connector: AccountingConnector, ledger: Ledger, billing: Make, engine: sa.Engine) -> None:
    rows = billing()
    connector.execute(call("sync_customer", SyncCustomerParams(customer_id=rows.customer_id), "c"))
    ledger.lose_responses = 1
    with pytest.raises(TransientError):
        connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=rows.invoice_id)))
    failed, = records(engine, "invoice")
    assert (failed.status, failed.attempts) == ("failed", 1)
    assert "read timeout" in (failed.last_error or "")
    outputs = connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=rows.invoice_id)))
    assert len(ledger.receivables) == 1
    synced, = records(engine, "invoice")
    assert (synced.status, synced.attempts, synced.external_id) == ("synced", 2, outputs["external_id"])


def test_every_exchange_is_audited_once_with_the_rule_and_the_step(
        connector: AccountingConnector, billing: Make, engine: sa.Engine) -> None:
    rows = billing()
    connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=rows.invoice_id),
                           rule_id="invoice-issued-charge", step_id="step-42"))
    trail = audits(engine)
    assert [(a.entity_type, a.operation, a.direction, a.outcome) for a in trail] == [
        ("customer", "upsert_customer", "push", "ok"), ("invoice", "push_invoice", "push", "ok")]
    assert {(a.rule_id, a.step_id, a.system) for a in trail} == {("invoice-issued-charge", "step-42", "omie")}
    assert trail[1].request is not None and trail[1].request["amount"] == "1234.56"
    assert trail[1].diff is not None and trail[1].diff["amount"] == [None, "1234.56"]


def test_a_field_changed_on_both_sides_keeps_ours_when_despacho_owns_it_and_records_the_conflict(
        connector: AccountingConnector, ledger: Ledger, billing: Make, engine: sa.Engine) -> None:
    rows = billing(amount="100.00")
    external_id = connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=rows.invoice_id),
                                         "k1"))["external_id"]
    ledger.change(external_id, amount=Decimal("90.00"))
    with session_scope(engine) as s:
        s.get_one(Invoice, rows.invoice_id).amount = Decimal("120.00")
    connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=rows.invoice_id), "k2"))
    assert ledger.receivables[external_id]["amount"] == Decimal("120.00")
    with session_scope(engine) as s:
        conflict, = s.exec(select(AccountingConflict))
        assert (conflict.field, conflict.ours, conflict.theirs, conflict.owner, conflict.kept) == \
            ("amount", "120.00", "90.00", "despacho", "ours")
    assert any(a.outcome == "conflict" for a in audits(engine))


def test_a_field_the_provider_owns_is_taken_into_our_invoice_and_recorded(
        engine: sa.Engine, ledger: Ledger, billing: Make, tmp_path: Any) -> None:
    settings = AccountingSettings(transport="live", erp="omie", ownership={"due_date": "provider"})
    connector = AccountingConnector(settings, Runtime(outbox=tmp_path, session=lambda: session_scope(engine)))
    rows = billing(due_date=date(2026, 12, 10))
    external_id = connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=rows.invoice_id),
                                         "k1"))["external_id"]
    ledger.change(external_id, due_date=date(2026, 12, 15))
    with session_scope(engine) as s:
        s.get_one(Invoice, rows.invoice_id).due_date = date(2026, 12, 11)
    connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=rows.invoice_id), "k2"))
    with session_scope(engine) as s:
        assert s.get_one(Invoice, rows.invoice_id).due_date == date(2026, 12, 15)
        conflict, = s.exec(select(AccountingConflict))
        assert (conflict.ours, conflict.theirs, conflict.kept) == ("2026-12-11", "2026-12-15", "theirs")
    assert ledger.receivables[external_id]["due_date"] == date(2026, 12, 15)


def test_a_change_on_their_side_only_to_a_field_we_own_is_overwritten_but_recorded(
        connector: AccountingConnector, ledger: Ledger, billing: Make, engine: sa.Engine) -> None:
    rows = billing(amount="100.00")
    external_id = connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=rows.invoice_id),
                                         "k1"))["external_id"]
    ledger.change(external_id, amount=Decimal("99.99"))
    connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=rows.invoice_id), "k2"))
    assert ledger.receivables[external_id]["amount"] == Decimal("100.00")
    with session_scope(engine) as s:
        conflict, = s.exec(select(AccountingConflict))
        assert (conflict.theirs, conflict.kept) == ("99.99", "ours")


def test_a_permanent_error_passes_through_with_its_code_and_is_recorded(
        connector: AccountingConnector, ledger: Ledger, billing: Make, engine: sa.Engine) -> None:
    rows = billing()
    ledger.failures.append(PermanentError("cpfCnpj inválido", code="validation"))
    with pytest.raises(PermanentError) as caught:
        connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=rows.invoice_id)))
    assert caught.value.code == "validation"
    record, = records(engine, "customer")
    assert (record.status, record.last_error) == ("failed", "cpfCnpj inválido")
    failed, = [a for a in audits(engine) if a.outcome == "failed"]
    assert failed.status_code == 400


def test_a_transient_error_passes_through_with_retry_after(
        connector: AccountingConnector, ledger: Ledger, billing: Make) -> None:
    rows = billing()
    ledger.failures.append(TransientError("rate limited", retry_after=30))
    with pytest.raises(TransientError) as caught:
        connector.execute(call("sync_customer", SyncCustomerParams(customer_id=rows.customer_id)))
    assert caught.value.retry_after == 30


def test_a_customer_without_a_tax_id_is_a_permanent_error_naming_them_and_the_field(
        connector: AccountingConnector, ledger: Ledger, billing: Make) -> None:
    rows = billing(tax_id=None, name="Padaria Sem CNPJ")
    with pytest.raises(PermanentError) as caught:
        connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=rows.invoice_id)))
    assert caught.value.code == "missing_tax_id"
    assert "Padaria Sem CNPJ" in str(caught.value) and "tax_id" in str(caught.value)
    assert ledger.calls == []


def test_a_boleto_falling_due_on_a_saturday_is_pushed_for_the_next_monday(
        connector: AccountingConnector, ledger: Ledger, billing: Make) -> None:
    rows = billing(due_date=date(2026, 12, 5))  # a Saturday
    outputs = connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=rows.invoice_id)))
    assert outputs["due_date"] == "2026-12-07"
    assert ledger.receivables[outputs["external_id"]]["due_date"] == date(2026, 12, 7)


def test_an_action_without_a_system_configured_names_the_setting_to_set(
        engine: sa.Engine, billing: Make, tmp_path: Any) -> None:
    connector = AccountingConnector(AccountingSettings(transport="live"),
                                    Runtime(outbox=tmp_path, session=lambda: session_scope(engine)))
    with pytest.raises(PermanentError) as caught:
        connector.execute(call("sync_payment", SyncPaymentParams(payment_id="x")))
    assert caught.value.code == "not_configured"
    assert "connectors.accounting.erp" in str(caught.value)


def pay(engine: sa.Engine, invoice_id: str, amount: str, external_ids: dict[str, Any] | None = None) -> str:
    from store.billing import record_payment

    with session_scope(engine) as s:
        return record_payment(s, invoice_id, amount, "pix", paid_at=AT, external_ids=external_ids).id


def test_a_payment_settles_the_receivable_pushing_the_invoice_first_when_needed(
        connector: AccountingConnector, ledger: Ledger, billing: Make, engine: sa.Engine) -> None:
    rows = billing(amount="50.10")
    payment_id = pay(engine, rows.invoice_id, "50.10")
    outputs = connector.execute(call("sync_payment", SyncPaymentParams(payment_id=payment_id)))
    assert ledger.calls == ["upsert_customer", "push_invoice", "settle"]
    assert ledger.settlements["rule-a:event-1:0"]["amount"] == Decimal("50.10")
    with session_scope(engine) as s:
        assert s.get_one(Payment, payment_id).external_ids == {"omie": outputs["external_id"]}


def test_a_payment_that_came_from_the_system_is_not_settled_there_again(
        connector: AccountingConnector, ledger: Ledger, billing: Make, engine: sa.Engine) -> None:
    rows = billing(amount="50.00")
    payment_id = pay(engine, rows.invoice_id, "50.00", {"omie": "pay_77"})
    outputs = connector.execute(call("sync_payment", SyncPaymentParams(payment_id=payment_id)))
    assert outputs == {"external_id": "pay_77", "status": "skipped"}
    assert ledger.calls == []
    assert [a.outcome for a in audits(engine)] == ["skipped"]


def test_cancel_refund_and_service_invoice_go_through_the_system(
        engine: sa.Engine, ledger: Ledger, billing: Make, tmp_path: Any) -> None:
    settings = AccountingSettings(transport="live", payments="asaas", erp="omie")
    connector = AccountingConnector(settings, Runtime(outbox=tmp_path, session=lambda: session_scope(engine)))
    rows = billing(amount="80.00")
    charge = connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id=rows.invoice_id), "a"))
    payment_id = pay(engine, rows.invoice_id, "80.00", {"asaas": charge["external_id"]})
    refund = connector.execute(call("refund_payment", RefundPaymentParams(payment_id=payment_id,
                                                                         amount=Decimal("30.00")), "b"))
    assert refund["status"] == "refunded"
    nfse = connector.execute(call("issue_service_invoice",
                                  IssueServiceInvoiceParams(invoice_id=rows.invoice_id), "c"))
    assert nfse["status"] == "scheduled"
    cancel = CancelInvoiceParams(invoice_id=rows.invoice_id)
    cancelled = connector.execute(call("cancel_invoice", cancel, "d"))
    assert cancelled["status"] == "cancelled"
    with pytest.raises(PermanentError, match="at most"):
        connector.execute(call("refund_payment", RefundPaymentParams(payment_id=payment_id,
                                                                     amount=Decimal("80.01")), "e"))


def test_the_file_transport_still_writes_the_outbox(engine: sa.Engine, billing: Make, tmp_path: Any) -> None:
    connector = AccountingConnector(AccountingSettings(), Runtime(outbox=tmp_path / "outbox"))
    outputs = connector.execute(call("sync_invoice", SyncInvoiceParams(invoice_id="inv-1")))
    assert set(outputs) >= {"external_id", "pix_payload", "boleto_line", "due_date"}
    assert list((tmp_path / "outbox" / "accounting").iterdir())
