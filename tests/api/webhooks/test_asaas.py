"""Asaas's webhook: the token checked, each delivery taken once, payments/overdue/refunds in any order.

Events come from the fake Asaas (tests/fakes/asaas.py) after the real adapter charged our
invoice there, and are delivered through the app as Asaas sends them.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from store.models.accounting import AccountingWebhookReceipt
from tests.api.webhooks.asaas_support import asaas_app, bill, post, state
from tests.fakes.asaas import WEBHOOK_TOKEN, FakeAsaas, asaas_server
from tests.support.catalogue import payload_errors


@pytest.fixture
def fake() -> Iterator[FakeAsaas]:
    with asaas_server() as server:
        yield server


@pytest.fixture
def client(db_url: str, db_engine: sa.Engine, tmp_path: Path, fake: FakeAsaas) -> Iterator[TestClient]:
    with TestClient(asaas_app(db_url, db_engine, tmp_path, api_url=fake.url)) as test_client:
        yield test_client


def receipts(db_engine: sa.Engine) -> list[str]:
    with Session(db_engine) as s:
        return [r.event_id for r in s.exec(select(AccountingWebhookReceipt))]


def test_a_received_payment_is_recorded_to_the_centavo_with_source_asaas(
        client: TestClient, fake: FakeAsaas, db_engine: sa.Engine) -> None:
    billed = bill(db_engine, fake, "1234.56")
    answer = fake.deliver(client.post, fake.pay(billed.charge_id, billing_type="PIX"))

    assert answer.status_code == 200 and answer.json() == {"status": "recorded"}
    invoice, payments, events = state(db_engine, billed.invoice_id)
    assert invoice.status == "paid" and invoice.amount_paid == Decimal("1234.56")
    assert [(p.amount, p.method, p.external_ids["asaas"]) for p in payments] == [
        (Decimal("1234.56"), "pix", billed.charge_id)]
    assert [(e.type, e.source) for e in events] == [("payment.received", "asaas"), ("invoice.paid", "asaas")]
    assert events[0].payload["payment"]["amount"] == 1234.56
    assert all(payload_errors(e.type, e.payload) == [] for e in events)


def test_a_partial_amount_with_cents_leaves_the_invoice_partially_paid(
        client: TestClient, fake: FakeAsaas, db_engine: sa.Engine) -> None:
    billed = bill(db_engine, fake, "100.00")
    fake.deliver(client.post, fake.pay(billed.charge_id, value="33.33", billing_type="BOLETO"))
    invoice, payments, _ = state(db_engine, billed.invoice_id)
    assert (invoice.status, invoice.amount_paid) == ("partially_paid", Decimal("33.33"))
    assert payments[0].method == "boleto"


def test_a_late_payment_with_asaas_interest_books_what_was_due_and_keeps_asaas_value(
        client: TestClient, fake: FakeAsaas, db_engine: sa.Engine) -> None:
    billed = bill(db_engine, fake, "200.00")
    fake.deliver(client.post, fake.pay(billed.charge_id, value="204.67"))
    invoice, payments, _ = state(db_engine, billed.invoice_id)
    assert (invoice.status, payments[0].amount) == ("paid", Decimal("200.00"))
    assert payments[0].external_ids["asaas_value"] == "204.67"


def test_a_repeated_delivery_answers_200_and_changes_nothing(
        client: TestClient, fake: FakeAsaas, db_engine: sa.Engine) -> None:
    billed = bill(db_engine, fake)
    event = fake.pay(billed.charge_id)
    fake.deliver(client.post, event)
    again = fake.deliver(client.post, event)

    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    _, payments, events = state(db_engine, billed.invoice_id)
    assert len(payments) == 1 and len(events) == 2
    assert receipts(db_engine) == [event["id"]]


def test_confirmed_after_received_is_not_a_second_payment(
        client: TestClient, fake: FakeAsaas, db_engine: sa.Engine) -> None:
    billed = bill(db_engine, fake, "150.00")
    fake.deliver(client.post, fake.pay(billed.charge_id, value="50.00"))  # a partial one: room for more
    answer = fake.deliver(client.post, fake.event("PAYMENT_CONFIRMED", billed.charge_id))

    assert answer.json() == {"status": "known"}
    invoice, payments, _ = state(db_engine, billed.invoice_id)
    assert len(payments) == 1 and invoice.amount_paid == Decimal("50.00")


def test_overdue_records_invoice_overdue_once_a_day_with_source_asaas(
        client: TestClient, fake: FakeAsaas, db_engine: sa.Engine) -> None:
    billed = bill(db_engine, fake, "89.90")
    fake.payments[billed.charge_id]["status"] = "OVERDUE"
    first = fake.deliver(client.post, fake.event("PAYMENT_OVERDUE", billed.charge_id))
    second = fake.deliver(client.post, fake.event("PAYMENT_OVERDUE", billed.charge_id))

    assert (first.json(), second.json()) == ({"status": "recorded"}, {"status": "known"})
    invoice, _, events = state(db_engine, billed.invoice_id)
    assert invoice.status == "issued"
    assert [(e.type, e.source) for e in events] == [("invoice.overdue", "asaas")]
    assert events[0].payload["invoice"]["amount_due"] == 89.9
    assert payload_errors("invoice.overdue", events[0].payload) == []


def test_an_overdue_after_the_payment_does_not_reopen_the_paid_invoice(
        client: TestClient, fake: FakeAsaas, db_engine: sa.Engine) -> None:
    billed = bill(db_engine, fake)
    overdue = fake.event("PAYMENT_OVERDUE", billed.charge_id)  # made first, delivered last
    fake.deliver(client.post, fake.pay(billed.charge_id))
    answer = fake.deliver(client.post, overdue)

    assert answer.status_code == 200 and answer.json() == {"status": "closed"}
    invoice, _, events = state(db_engine, billed.invoice_id)
    assert invoice.status == "paid"
    assert "invoice.overdue" not in [e.type for e in events]


def test_a_refund_marks_payment_and_invoice_and_records_payment_refunded(
        client: TestClient, fake: FakeAsaas, db_engine: sa.Engine) -> None:
    billed = bill(db_engine, fake, "480.10")
    fake.deliver(client.post, fake.pay(billed.charge_id))
    fake.payments[billed.charge_id]["status"] = "REFUNDED"
    answer = fake.deliver(client.post, fake.event("PAYMENT_REFUNDED", billed.charge_id))

    assert answer.json() == {"status": "recorded"}
    invoice, payments, events = state(db_engine, billed.invoice_id)
    assert (invoice.status, invoice.amount_paid) == ("refunded", Decimal("0.00"))
    assert payments[0].amount == Decimal("480.10")  # the money came in: the payment stays
    assert payments[0].external_ids["asaas_refund"]["amount"] == "480.10"
    refunded = events[-1]
    assert (refunded.type, refunded.source) == ("payment.refunded", "asaas")
    assert refunded.payload["refund"]["amount"] == 480.1
    assert payload_errors("payment.refunded", refunded.payload) == []


def test_a_refund_that_overtook_the_payment_records_both_once(
        client: TestClient, fake: FakeAsaas, db_engine: sa.Engine) -> None:
    billed = bill(db_engine, fake, "75.00")
    received = fake.pay(billed.charge_id)
    fake.payments[billed.charge_id]["status"] = "REFUNDED"
    refund = fake.event("PAYMENT_REFUNDED", billed.charge_id)
    fake.deliver(client.post, refund)
    late = fake.deliver(client.post, received)

    assert late.json() == {"status": "known"}
    invoice, payments, events = state(db_engine, billed.invoice_id)
    assert invoice.status == "refunded" and len(payments) == 1
    assert [e.type for e in events] == ["payment.received", "invoice.paid", "payment.refunded"]


def test_an_unknown_invoice_reference_answers_200_is_logged_and_changes_nothing(
        client: TestClient, fake: FakeAsaas, db_engine: sa.Engine, caplog: pytest.LogCaptureFixture) -> None:
    billed = bill(db_engine, fake)
    fake.payments[billed.charge_id]["externalReference"] = "not-one-of-ours"
    with caplog.at_level(logging.WARNING, logger="despacho.api.webhooks.asaas"):
        answer = fake.deliver(client.post, fake.pay(billed.charge_id))

    assert answer.status_code == 200 and answer.json() == {"status": "unknown_invoice"}
    assert "names no invoice of ours" in caplog.text and "not-one-of-ours" in caplog.text
    invoice, payments, events = state(db_engine, billed.invoice_id)
    assert invoice.status == "issued" and payments == [] and events == []
    assert receipts(db_engine) == []  # a redelivery once the invoice exists will count


def test_an_unknown_event_type_is_ignored_with_200(client: TestClient, fake: FakeAsaas,
                                                   db_engine: sa.Engine) -> None:
    billed = bill(db_engine, fake)
    answer = fake.deliver(client.post, fake.event("PAYMENT_CREATED", billed.charge_id))
    assert answer.status_code == 200 and answer.json() == {"status": "ignored"}
    answer = post(client, {"id": "evt_x", "event": "TRANSFER_DONE", "transfer": {"id": "tra_1"}})
    assert answer.json() == {"status": "ignored"}
    assert state(db_engine, billed.invoice_id)[2] == []


def test_a_forged_token_is_refused_with_403_and_logged_without_the_token(
        client: TestClient, fake: FakeAsaas, db_engine: sa.Engine, caplog: pytest.LogCaptureFixture) -> None:
    billed = bill(db_engine, fake)
    with caplog.at_level(logging.WARNING, logger="despacho.api.webhooks"):
        answer = fake.deliver(client.post, fake.pay(billed.charge_id), token="guessed-" + "t" * 32)

    assert answer.status_code == 403
    assert "asaas-access-token does not match" in caplog.text
    assert "guessed-" not in caplog.text and WEBHOOK_TOKEN not in caplog.text
    assert state(db_engine, billed.invoice_id)[1] == []


def test_a_delivery_without_the_token_header_is_refused(client: TestClient, fake: FakeAsaas,
                                                        db_engine: sa.Engine) -> None:
    billed = bill(db_engine, fake)
    assert post(client, fake.pay(billed.charge_id), token=None).status_code == 403


@pytest.fixture
def unconfigured(db_url: str, db_engine: sa.Engine, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(asaas_app(db_url, db_engine, tmp_path, token=None)) as test_client:
        yield test_client


def test_without_a_configured_token_every_delivery_is_refused_and_the_log_says_why(
        unconfigured: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="despacho.api.webhooks"):
        answer = post(unconfigured, {"id": "evt_1", "event": "PAYMENT_RECEIVED"}, token="")
    assert answer.status_code == 403
    assert "webhook_token is not configured" in caplog.text


def test_a_body_that_is_not_json_is_a_logged_400(client: TestClient,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="despacho.api.webhooks.asaas"):
        answer = post(client, b"{not json")
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_json"
    assert "not JSON" in caplog.text


def test_an_event_whose_value_is_not_an_amount_is_a_logged_422(
        client: TestClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="despacho.api.webhooks.asaas"):
        answer = post(client, {"id": "evt_1", "event": "PAYMENT_RECEIVED",
                               "payment": {"id": "pay_1", "value": "dez reais"}})
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["loc"] == ["payment", "value"]
    assert "payment" in caplog.text
