"""Shared by the Omie tests (here and in tests/security): adapters on the fake, records to push."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from connectors.accounting.adapter import (
    AdapterRuntime,
    CustomerRecord,
    Exchange,
    InvoiceRecord,
    PaymentRecord,
)
from connectors.accounting.omie import OmieAdapter
from connectors.accounting.omie_limits import OmieLimiter
from connectors.accounting.settings import OmieSettings
from tests.fakes.omie import APP_KEY, APP_SECRET, FakeOmie

ZONE = ZoneInfo("America/Sao_Paulo")
CNPJ = "11222333000181"
CPF = "52998224725"


def settings_for(fake: FakeOmie, **overrides: Any) -> OmieSettings:
    values: dict[str, Any] = {"api_url": fake.url, "app_key": APP_KEY, "app_secret": APP_SECRET,
                              "timeout": 2.0, "account_code": 4242, "category_code": "1.01.02"}
    values.update(overrides)
    return OmieSettings(**values)


@contextmanager
def adapter_factory(fake: FakeOmie, audit: list[Exchange]) -> Iterator[Callable[..., OmieAdapter]]:
    """``make(**settings)``: adapters on the fake, auditing into ``audit``; closed at the end."""
    made: list[OmieAdapter] = []

    def make(*, limiter: OmieLimiter | None = None, sleeps: list[float] | None = None,
             **overrides: Any) -> OmieAdapter:
        options: dict[str, Any] = {"sleep": sleeps.append} if sleeps is not None else {}
        adapter = OmieAdapter(settings_for(fake, **overrides), AdapterRuntime(audit=audit.append),
                              limiter=limiter, **options)
        made.append(adapter)
        return adapter

    try:
        yield make
    finally:
        for adapter in made:
            adapter.client.close()


def customer(**fields: Any) -> CustomerRecord:
    values: dict[str, Any] = {"id": str(uuid.uuid4()), "name": "Refrigeração Paulista Ltda", "tax_id": CNPJ,
                              "email": "financeiro@refripaulista.com.br", "phone": "+5511987654321",
                              "address": "Rua Vergueiro, 1000", "city": "São Paulo", "state": "SP",
                              "postal_code": "01504-000"}
    values.update(fields)
    return CustomerRecord(**values)


def invoice(client: CustomerRecord, amount: str = "1234.56", **fields: Any) -> InvoiceRecord:
    values: dict[str, Any] = {"id": str(uuid.uuid4()), "number": "2026-0042", "customer": client,
                              "amount": Decimal(amount), "due_date": date(2026, 12, 21),
                              "description": "Manutenção preventiva de ar-condicionado",
                              "order_id": str(uuid.uuid4())}
    values.update(fields)
    return InvoiceRecord(**values)


def payment(inv: InvoiceRecord, amount: str | None = None, **fields: Any) -> PaymentRecord:
    values: dict[str, Any] = {"id": str(uuid.uuid4()), "invoice_id": inv.id,
                              "amount": Decimal(amount) if amount else inv.amount, "method": "pix",
                              "paid_at": datetime(2026, 12, 18, 14, 5, tzinfo=ZONE)}
    values.update(fields)
    return PaymentRecord(**values)
