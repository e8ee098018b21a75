"""Issue 13 end to end, with the data the product really makes.

The demo seed's customers (their CPF or CNPJ from ``store.seed``), invoices issued by
``store.billing.issue_invoice`` (the real ``invoice.issued`` payload), the example rules of
``rules/accounting.yaml`` and the real templates, run by the engine core (relay, planner,
runner: ``tests/engine/runtime/pipeline_helpers.py``) with the accounting connector live
against the local Asaas and Omie fakes:

- ``invoice.issued`` -> an Asaas charge for the seeded customer's CPF/CNPJ and the amount to the
  centavo, its PIX code in the customer's WhatsApp message;
- Asaas's ``PAYMENT_RECEIVED`` webhook (delivered twice, then ``PAYMENT_CONFIRMED``) ->
  ``payment.received`` with source ``asaas`` once;
- that ``payment.received`` -> the ERP (Omie) gets the receivable (upserted with our integration
  code) and its settlement (baixa) to the centavo, once, and Asaas is not asked to settle again.
"""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, col, select

from api.app import create_app
from api.settings import ApiSettings
from engine.settings import load_settings
from store.billing import issue_invoice
from store.db import session_scope
from store.migrate import upgrade
from store.models import Customer, Event, Invoice, Payment, ServiceOrder
from store.models.runs import RuleStep
from store.seed import seed_demo
from store.service_orders import create_order
from tests.engine.runtime.pipeline_helpers import Driver, make_driver
from tests.fakes.asaas import API_KEY, WEBHOOK_TOKEN, FakeAsaas, asaas_server
from tests.fakes.omie import APP_KEY, APP_SECRET, FakeOmie, omie_server
from tests.support.catalogue import payload_errors

REPO = Path(__file__).resolve().parents[3]
SEEDED_AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
JWT_KEY = "test-key-" + "x" * 40


@dataclass
class Product:
    driver: Driver
    config: Path
    asaas: FakeAsaas
    omie: FakeOmie
    outbox: Path

    @property
    def db(self) -> sa.Engine:
        return self.driver.core.db


@pytest.fixture
def product(tmp_path: Path) -> Iterator[Product]:
    """The repository's accounting rules and templates, a seeded SQLite database, both fakes."""
    (tmp_path / "rules").mkdir()
    shutil.copy(REPO / "rules" / "accounting.yaml", tmp_path / "rules" / "accounting.yaml")
    shutil.copytree(REPO / "templates", tmp_path / "templates")
    database = tmp_path / "despacho.db"
    with asaas_server() as asaas, omie_server() as omie:
        config = tmp_path / "config.yaml"
        config.write_text(textwrap.dedent(f"""
            rules: {{path: {tmp_path / 'rules'}}}
            templates: {{path: {tmp_path / 'templates'}}}
            outbox: {{path: {tmp_path / 'outbox'}}}
            database: {{url: "sqlite:///{database}"}}
            broker: {{url: "stub://"}}
            connectors:
              accounting:
                transport: live
                payments: asaas
                erp: omie
                asaas: {{api_url: "{asaas.url}", api_key: "{API_KEY}", webhook_token: "{WEBHOOK_TOKEN}",
                         timeout: 5}}
                omie: {{api_url: "{omie.url}", app_key: "{APP_KEY}", app_secret: "{APP_SECRET}",
                        account_code: 4242, timeout: 5}}
            """), encoding="utf-8")
        upgrade(f"sqlite:///{database}")
        driver = make_driver(config)
        with session_scope(driver.core.db) as s:
            seed_demo(s, at=SEEDED_AT, customers=40, technicians=20, orders=80)
        yield Product(driver, config, asaas, omie, tmp_path / "outbox")
        driver.core.db.dispose()


def seeded_customer(db: sa.Engine, *, company: bool) -> Customer:
    """A seeded customer with a phone and no WhatsApp opt-out: a CNPJ (14) or a CPF (11)."""
    with Session(db) as s:
        for customer in s.exec(select(Customer).order_by(col(Customer.id))):
            if customer.tax_id and (len(customer.tax_id) == 14) == company and customer.phone \
                    and "whatsapp" not in customer.opt_outs:
                return customer
    raise AssertionError("the demo seed has no such customer")


def issue(db: sa.Engine, customer: Customer, amount: str) -> Invoice:
    """What the product does when an order is billed: the order, then ``issue_invoice``."""
    with session_scope(db) as s:
        region = s.exec(select(ServiceOrder.region).where(ServiceOrder.customer_id == customer.id)).first()
        order = create_order(s, customer_id=customer.id, region=region or "sp-centro", amount=amount,
                             description="Manutenção preventiva de ar-condicionado")
        return issue_invoice(s, order.id, amount, date.today() + timedelta(days=10))


def steps(db: sa.Engine, action: str) -> list[RuleStep]:
    with Session(db) as s:
        return list(s.exec(select(RuleStep).where(RuleStep.action == action)))


def events_of(db: sa.Engine, event_type: str, invoice_id: str) -> list[Event]:
    with Session(db) as s:
        found = s.exec(select(Event).where(Event.type == event_type))
        return [e for e in found if e.payload["invoice"]["id"] == invoice_id]


def charge_for(asaas: FakeAsaas, invoice_id: str) -> dict[str, object]:
    charges = [p for p in asaas.payments.values() if p.get("externalReference") == invoice_id]
    assert len(charges) == 1, charges
    return charges[0]


def test_issued_invoices_of_seeded_customers_become_asaas_charges_to_the_centavo(product: Product) -> None:
    person, company = seeded_customer(product.db, company=False), seeded_customer(product.db, company=True)
    invoices = {person.id: issue(product.db, person, "1234.57"),
                company.id: issue(product.db, company, "89.90")}

    product.driver.drain()

    for customer, amount in ((person, "1234.57"), (company, "89.90")):
        invoice = invoices[customer.id]
        charge = charge_for(product.asaas, invoice.id)
        asaas_customer = product.asaas.customers[str(charge["customer"])]
        assert asaas_customer["cpfCnpj"] == customer.tax_id
        assert Decimal(str(charge["value"])) == Decimal(amount)
        issued, = events_of(product.db, "invoice.issued", invoice.id)
        assert payload_errors("invoice.issued", issued.payload) == []
    charged = steps(product.db, "accounting.sync_invoice")
    assert sorted(s.status for s in charged) == ["succeeded", "succeeded"]
    assert len(product.asaas.created("payments")) == 2  # one charge each, nothing repeated
    # the customer's message carries what Asaas returned (rules/accounting.yaml): free text on WhatsApp
    # is refused outside the 24 h window (no message from these customers), so the email fallback sends it
    whatsapp = steps(product.db, "whatsapp.send")
    assert [(s.status, s.error_code) for s in whatsapp] == [("dead", "63016")] * 2  # Twilio's code for it
    emails = [p.read_text(encoding="utf-8") for p in (product.outbox / "email").rglob("*") if p.is_file()]
    for step in charged:
        assert step.output is not None and step.output["invoice_url"] and step.output["pix_payload"]
        sent = [m for m in emails if str(step.output["invoice_url"]) in m]
        assert len(sent) == 1 and str(step.output["pix_payload"]) in sent[0]


def test_an_asaas_payment_is_received_once_and_settled_in_the_erp_to_the_centavo(product: Product) -> None:
    customer = seeded_customer(product.db, company=True)
    invoice = issue(product.db, customer, "1234.57")
    product.driver.drain()
    charge = charge_for(product.asaas, invoice.id)

    settings = load_settings(str(product.config), environ={})
    api = ApiSettings(jwt_keys=f"t1:{JWT_KEY}", rate_limit_storage="memory://", ip_rate_limit="10000/minute")
    with TestClient(create_app(settings, api=api, engine=product.db)) as client:
        received = product.asaas.pay(str(charge["id"]), billing_type="PIX")
        first = product.asaas.deliver(client.post, received)
        again = product.asaas.deliver(client.post, received)  # Asaas delivers at least once
        confirmation = product.asaas.event("PAYMENT_CONFIRMED", str(charge["id"]))
        confirmed = product.asaas.deliver(client.post, confirmation)
    assert (first.status_code, first.json()) == (200, {"status": "recorded"})
    assert (again.status_code, again.json()) == (200, {"status": "duplicate"})
    assert (confirmed.status_code, confirmed.json()) == (200, {"status": "known"})

    payment_received, = events_of(product.db, "payment.received", invoice.id)
    assert payment_received.source == "asaas"
    assert payload_errors("payment.received", payment_received.payload) == []
    with Session(product.db) as s:
        payment, = s.exec(select(Payment).where(Payment.invoice_id == invoice.id))
        assert payment.amount == Decimal("1234.57") and payment.external_ids["asaas"] == charge["id"]
        assert s.get_one(Invoice, invoice.id).status == "paid"

    product.driver.drain()  # payment.received -> rules/accounting.yaml -> accounting.sync_payment (the ERP)
    product.driver.drain()

    settled, = steps(product.db, "accounting.sync_payment")
    assert settled.status == "succeeded", settled.last_error
    receivable, = product.omie.calls_of("IncluirContaReceber")
    assert Decimal(str(receivable["valor_documento"])) == Decimal("1234.57")
    omie_customer, = product.omie.calls_of("UpsertCliente")
    assert re.sub(r"\D", "", str(omie_customer["cnpj_cpf"])) == customer.tax_id
    baixa, = product.omie.calls_of("LancarRecebimento")
    assert Decimal(str(baixa["valor"])) == Decimal("1234.57")
    assert product.omie.receivable(receivable["codigo_lancamento_integracao"])["status_titulo"] == "RECEBIDO"
    # Asaas received the money: it is not asked to settle its own charge
    assert not [path for _, path, _ in product.asaas.requests if "receiveInCash" in path]
    assert len(events_of(product.db, "payment.received", invoice.id)) == 1


def test_a_payment_recorded_in_despacho_settles_the_omie_receivable_once(product: Product) -> None:
    from store.billing import record_payment

    customer = seeded_customer(product.db, company=False)
    invoice = issue(product.db, customer, "250.05")
    product.driver.drain()
    with session_scope(product.db) as s:
        record_payment(s, invoice.id, "100.02", "pix")
    product.driver.drain()
    product.driver.drain()

    settled, = steps(product.db, "accounting.sync_payment")
    assert settled.status == "succeeded", settled.last_error
    receivable, = product.omie.calls_of("IncluirContaReceber")
    assert Decimal(str(receivable["valor_documento"])) == Decimal("250.05")
    baixa, = product.omie.calls_of("LancarRecebimento")
    assert Decimal(str(baixa["valor"])) == Decimal("100.02")
    assert product.omie.receivable(receivable["codigo_lancamento_integracao"])["status_titulo"] != "RECEBIDO"
