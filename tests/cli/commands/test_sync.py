"""``despacho sync list|show|retry|reconcile`` and ``check accounting`` against the ledger system."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from connectors.accounting import AccountingConnector, AccountingSettings
from connectors.accounting.connector import SyncInvoiceParams
from connectors.accounting.registry import ADAPTERS
from connectors.base import ActionCall, Runtime
from store.db import make_engine, session_scope
from tests.cli.commands.replay import as_json, despacho, repo_project
from tests.connectors.accounting.ledger_adapter import Ledger, LedgerAdapter


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Ledger:
    system = Ledger()
    monkeypatch.setitem(ADAPTERS, "omie", lambda settings, runtime: LedgerAdapter(system, runtime))
    return system


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = repo_project(tmp_path)
    with path.open("a", encoding="utf-8") as f:
        f.write("connectors: {accounting: {transport: live, erp: omie}}\n")
    return path


def synced_invoice(tmp_path: Path, amount: str = "150.00") -> str:
    """An invoice pushed to the ledger through the connector, as a rule step would."""
    from store.billing import issue_invoice
    from store.models import Customer, ServiceOrder

    engine = make_engine(f"sqlite:///{tmp_path / 'despacho.db'}")
    with session_scope(engine) as s:
        customer = Customer(name="Ana Lima", phone="+5511987654321", tax_id="52998224725")
        s.add(customer)
        s.flush()
        order = ServiceOrder(customer_id=customer.id, region="sp", amount=amount)
        s.add(order)
        s.flush()
        invoice_id = issue_invoice(s, order.id, amount, date(2026, 12, 10)).id
    runtime = Runtime(outbox=tmp_path / "outbox", session=lambda: session_scope(engine))
    connector = AccountingConnector(AccountingSettings(transport="live", erp="omie"), runtime)
    connector.execute(ActionCall("sync_invoice", SyncInvoiceParams(invoice_id=invoice_id), "k",
                                 rule_id="invoice-issued", step_id="s1"))
    engine.dispose()
    return invoice_id


def test_list_and_show_print_the_records_and_their_trail(config: Path, ledger: Ledger,
                                                         tmp_path: Path) -> None:
    invoice_id = synced_invoice(tmp_path)
    records = as_json(despacho(config, "sync", "list", "--entity", "invoice", "--format", "json"))["records"]
    [record] = records
    assert (record["entity_id"], record["status"], record["system"]) == (invoice_id, "synced", "omie")
    shown = as_json(despacho(config, "sync", "show", record["id"][:8], "--format", "json"))
    assert [a["operation"] for a in shown["audit"]] == ["push_invoice"]
    assert shown["audit"][0]["rule_id"] == "invoice-issued"
    text = despacho(config, "sync", "show", record["id"])
    assert text.exit_code == 0 and "push_invoice" in text.output


def test_a_bad_status_filter_is_a_usage_error(config: Path) -> None:
    result = despacho(config, "sync", "list", "--status", "lost")
    assert result.exit_code == 2
    assert "pending, synced, failed" in result.output


def test_retrying_a_synced_record_says_why_not_and_exits_1(config: Path, ledger: Ledger,
                                                           tmp_path: Path) -> None:
    synced_invoice(tmp_path)
    listed = as_json(despacho(config, "sync", "list", "--entity", "invoice", "--format", "json"))
    record = listed["records"][0]
    result = despacho(config, "sync", "retry", record["id"])
    assert result.exit_code == 1
    assert "already synced" in result.output


def test_reconcile_exits_1_and_reports_a_mismatch(config: Path, ledger: Ledger, tmp_path: Path) -> None:
    synced_invoice(tmp_path)
    assert despacho(config, "sync", "reconcile", "--since", "2020-01-01").exit_code == 0
    [external_id] = ledger.receivables
    ledger.change(external_id, amount=Decimal("149.99"))
    result = despacho(config, "sync", "reconcile", "--since", "2020-01-01", "--format", "json")
    assert result.exit_code == 1
    assert '"kind": "amount"' in result.output and '"theirs": "149.99"' in result.output


def test_reconcile_without_a_date_is_a_usage_error(config: Path) -> None:
    assert despacho(config, "sync", "reconcile", "--since", "yesterday").exit_code == 2


def test_check_accounting_runs_each_configured_adapter_check(config: Path, ledger: Ledger) -> None:
    result = despacho(config, "check", "accounting", "--format", "json")
    assert result.exit_code == 0, result.output
    assert ledger.calls == ["check"]
