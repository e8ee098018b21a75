"""Fixtures: both databases, the ledger system registered as the ERP, billing rows to sync."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from connectors.accounting import AccountingConnector, AccountingSettings
from connectors.accounting.registry import ADAPTERS
from connectors.base import ActionCall, Params, Runtime
from store.db import session_scope
from tests.connectors.accounting.ledger_adapter import Ledger, LedgerAdapter
from tests.support.databases import emptied_engine, migrated_pg_database, sqlite_copy

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
CPF = "52998224725"


@pytest.fixture(scope="session")
def pg_migrated_url() -> Iterator[str]:
    with migrated_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, migrated_template: Path, tmp_path: Path) -> Iterator[sa.Engine]:
    """The store code differs by dialect (JSON columns, locks): orchestration runs on both."""
    url = (sqlite_copy(migrated_template, tmp_path) if request.param == "sqlite"
           else request.getfixturevalue("pg_migrated_url"))
    with emptied_engine(url) as engine:
        yield engine


@pytest.fixture
def ledger(monkeypatch: pytest.MonkeyPatch) -> Ledger:
    """The in-memory system, registered under 'omie' (the ERP) and 'asaas' (the payment provider)."""
    system = Ledger()
    for name in ("omie", "asaas"):
        monkeypatch.setitem(ADAPTERS, name, lambda settings, runtime: LedgerAdapter(system, runtime))
    return system


@pytest.fixture
def settings() -> AccountingSettings:
    return AccountingSettings(transport="live", erp="omie")


@pytest.fixture
def connector(engine: sa.Engine, settings: AccountingSettings, tmp_path: Path,
              ledger: Ledger) -> AccountingConnector:
    runtime = Runtime(outbox=tmp_path / "outbox", session=lambda: session_scope(engine))
    return AccountingConnector(settings, runtime)


@dataclass
class Billing:
    customer_id: str
    order_id: str
    invoice_id: str


@pytest.fixture
def billing(engine: sa.Engine) -> Callable[..., Billing]:
    """A customer (with a CPF unless told), an order and an issued invoice."""
    from store.billing import issue_invoice
    from store.models import Customer, ServiceOrder

    def make(amount: str = "1234.56", due_date: date = date(2026, 12, 10), tax_id: str | None = CPF,
             **customer: Any) -> Billing:
        with session_scope(engine) as s:
            person = Customer(name=customer.pop("name", "Maria Souza"), phone="+5511987654321",
                              email="maria@example.com", tax_id=tax_id, **customer)
            s.add(person)
            s.flush()
            order = ServiceOrder(customer_id=person.id, region="sp", description="Troca de disjuntor",
                                 amount=amount)
            s.add(order)
            s.flush()
            invoice = issue_invoice(s, order.id, amount, due_date, at=AT)
            return Billing(person.id, order.id, invoice.id)
    return make


def call(action: str, params: Params, key: str = "rule-a:event-1:0", *, rule_id: str | None = "rule-a",
         step_id: str | None = "step-1") -> ActionCall:
    return ActionCall(action=action, params=params, idempotency_key=key, rule_id=rule_id, step_id=step_id)
