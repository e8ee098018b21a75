"""Shared by the Asaas webhook tests and their attack replays: an app that knows the webhook token,
the fake Asaas, and an invoice of ours charged there."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.app import create_app
from api.settings import ApiSettings
from connectors.accounting.adapter import AdapterRuntime, CustomerRecord, InvoiceRecord
from connectors.accounting.asaas import AsaasAdapter
from connectors.accounting.settings import AccountingSettings
from engine.settings import ConnectorsSettings, DatabaseSettings, PathsSettings, Settings
from store.billing import issue_invoice
from store.db import session_scope
from store.models import Customer, Event, Invoice, Payment
from store.service_orders import create_order
from tests.fakes.asaas import API_KEY, WEBHOOK_TOKEN, FakeAsaas

JWT_KEY = "test-key-" + "x" * 40


def asaas_app(db_url: str, db_engine: sa.Engine, tmp_path: Path, token: str | None = WEBHOOK_TOKEN,
              api_url: str = "http://127.0.0.1:1/v3") -> FastAPI:
    accounting = AccountingSettings.model_validate(
        {"transport": "live", "payments": "asaas",
         "asaas": {"api_url": api_url, "api_key": API_KEY, "webhook_token": token}})
    (tmp_path / "rules").mkdir(exist_ok=True)
    settings = Settings(database=DatabaseSettings(url=db_url), rules=PathsSettings(path=tmp_path / "rules"),
                        connectors=ConnectorsSettings(accounting=accounting))
    api = ApiSettings(jwt_keys=f"t1:{JWT_KEY}", rate_limit_storage="memory://", ip_rate_limit="10000/minute")
    return create_app(settings, api=api, engine=db_engine)


@dataclass
class Billed:
    invoice_id: str
    charge_id: str


def bill(db_engine: sa.Engine, fake: FakeAsaas, amount: str = "1234.56") -> Billed:
    """An invoice of ours, charged on the fake Asaas by the real adapter."""
    with session_scope(db_engine) as s:
        customer = Customer(name="Maria Souza", phone="+5511987654321", email="maria@example.com")
        s.add(customer)
        s.flush()
        order = create_order(s, customer_id=customer.id, region="sp-centro", amount=amount)
        invoice = issue_invoice(s, order.id, amount, fake.today + timedelta(days=3))
    adapter = AsaasAdapter(AccountingSettings.model_validate(
        {"asaas": {"api_url": fake.url, "api_key": API_KEY}}).asaas, AdapterRuntime(audit=lambda e: None))
    record = CustomerRecord(id=customer.id, name=customer.name, tax_id="52998224725", email=None, phone=None)
    remote_customer = adapter.upsert_customer(record, "k")
    charge = adapter.push_invoice(InvoiceRecord(id=invoice.id, number=invoice.number, customer=record,
                                                amount=Decimal(amount), due_date=invoice.due_date,
                                                description="Manutenção"), remote_customer.external_id, "k")
    return Billed(invoice.id, charge.external_id)


def state(db_engine: sa.Engine, invoice_id: str) -> tuple[Invoice, list[Payment], list[Event]]:
    with Session(db_engine) as s:
        invoice = s.exec(select(Invoice).where(Invoice.id == invoice_id)).one()
        payments = list(s.exec(select(Payment).where(Payment.invoice_id == invoice_id)))
        events = [e for e in s.exec(select(Event).order_by(sa.text("recorded_at")))
                  if e.type != "invoice.issued" and e.type != "service_order.created"]
        return invoice, payments, events


def post(client: TestClient, body: Any, token: str | None = WEBHOOK_TOKEN, **headers: str) -> Any:
    sent = {"Content-Type": "application/json", **headers}
    if token is not None:
        sent["asaas-access-token"] = token
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post("/webhooks/asaas", content=raw, headers=sent)
