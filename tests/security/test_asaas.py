"""Attacks on the Asaas integration: forged and odd tokens, hostile webhook bodies, replays,
and a hostile or broken Asaas answering the adapter (path tricks, endless pages, huge bodies)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from connectors.accounting import asaas as asaas_module
from connectors.accounting.adapter import AdapterRuntime, Exchange
from connectors.accounting.asaas import AsaasAdapter
from connectors.accounting.settings import AsaasSettings
from errors import PermanentError, TransientError
from store.models import Event, Payment
from tests.api.webhooks.asaas_support import asaas_app, bill, post, state
from tests.fakes.asaas import API_KEY, WEBHOOK_TOKEN, FakeAsaas, asaas_server


@pytest.fixture
def fake() -> Iterator[FakeAsaas]:
    with asaas_server() as server:
        yield server


@pytest.fixture
def hooks(db_url: str, db_engine: sa.Engine, tmp_path: Path, fake: FakeAsaas) -> Iterator[TestClient]:
    with TestClient(asaas_app(db_url, db_engine, tmp_path, api_url=fake.url)) as test_client:
        yield test_client


def nothing_stored(db_engine: sa.Engine) -> bool:
    with Session(db_engine) as s:
        return s.exec(select(Payment)).first() is None and not [
            e for e in s.exec(select(Event)) if e.source == "asaas"]


def paid_event(charge: str = "pay_1", invoice: str = "inv", value: Any = 10) -> dict[str, Any]:
    return {"id": "evt_1", "event": "PAYMENT_RECEIVED",
            "payment": {"id": charge, "value": value, "externalReference": invoice, "billingType": "PIX",
                        "status": "RECEIVED", "paymentDate": "2026-12-01"}}


@pytest.mark.parametrize("token", [
    WEBHOOK_TOKEN[:-1],  # a prefix
    WEBHOOK_TOKEN + "x",  # longer
    WEBHOOK_TOKEN.upper(),
    "é" + WEBHOOK_TOKEN[1:],  # not ASCII: compared as bytes, no TypeError → 500
    " " + WEBHOOK_TOKEN,
])
def test_a_token_that_is_almost_right_is_refused_with_403(
        token: str, hooks: TestClient, fake: FakeAsaas, db_engine: sa.Engine) -> None:
    billed = bill(db_engine, fake)
    headers = {"asaas-access-token": token.encode("utf-8"), "Content-Type": b"application/json"}
    answer = hooks.post("/webhooks/asaas", content=json.dumps(fake.pay(billed.charge_id)).encode(),
                        headers=headers)
    assert answer.status_code == 403
    assert nothing_stored(db_engine)


def test_the_token_in_the_query_string_is_not_accepted(hooks: TestClient, db_engine: sa.Engine) -> None:
    answer = hooks.post(f"/webhooks/asaas?asaas-access-token={WEBHOOK_TOKEN}", json=paid_event())
    assert answer.status_code == 403


def test_an_oversized_event_is_refused_with_413_before_parsing(hooks: TestClient) -> None:
    event = paid_event()
    event["padding"] = "x" * 70_000
    answer = post(hooks, event)
    assert answer.status_code == 413


def test_deeply_nested_json_is_a_400_not_a_crash(hooks: TestClient) -> None:
    answer = post(hooks, b"[" * 30_000 + b"]" * 30_000)  # 60 kB: under the size limit
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_json"


@pytest.mark.parametrize("value", [-10, 0, "NaN", "Infinity", 1e400, 10**15, "1" * 5000, True, None])
def test_an_amount_that_is_not_a_positive_bounded_number_is_refused_with_422(
        value: Any, hooks: TestClient, db_engine: sa.Engine) -> None:
    raw = json.dumps(paid_event(value=value)).replace('"value": Infinity', '"value": 1e400').encode()
    answer = post(hooks, raw)
    assert answer.status_code == 422
    assert nothing_stored(db_engine)


@pytest.mark.parametrize("field, value", [("id", "e" * 101), ("event", "E" * 61), ("id", "")])
def test_identifiers_longer_than_the_columns_are_refused_with_422(
        field: str, value: str, hooks: TestClient) -> None:
    event = paid_event()
    event[field] = value
    assert post(hooks, event).status_code == 422


def test_a_payment_id_longer_than_its_column_is_refused(hooks: TestClient) -> None:
    assert post(hooks, paid_event(charge="p" * 101)).status_code == 422


def test_a_replayed_payment_under_new_event_ids_is_still_one_payment(
        hooks: TestClient, fake: FakeAsaas, db_engine: sa.Engine) -> None:
    billed = bill(db_engine, fake, "100.00")
    event = fake.pay(billed.charge_id, value="40.00")
    for n in range(3):
        assert post(hooks, {**event, "id": f"evt_replay_{n}"}).status_code == 200
    invoice, payments, _ = state(db_engine, billed.invoice_id)
    assert len(payments) == 1 and invoice.amount_paid == Decimal("40.00")


def test_an_event_cannot_book_more_than_the_invoice_owes(
        hooks: TestClient, fake: FakeAsaas, db_engine: sa.Engine) -> None:
    billed = bill(db_engine, fake, "100.00")
    post(hooks, fake.pay(billed.charge_id, value="999999.99"))
    invoice, payments, _ = state(db_engine, billed.invoice_id)
    assert invoice.amount_paid == Decimal("100.00") and payments[0].amount == Decimal("100.00")


# --- a hostile or broken Asaas ---------------------------------------------------------------------

def adapter(fake: FakeAsaas, audited: list[Exchange] | None = None) -> AsaasAdapter:
    settings = AsaasSettings.model_validate({"api_url": fake.url, "api_key": API_KEY, "timeout": 2})
    return AsaasAdapter(settings, AdapterRuntime(audit=(audited if audited is not None else []).append))


@pytest.mark.parametrize("external_id", ["pay_1/../../myAccount", "pay_1?x=1", "../finance/balance",
                                         "pay 1", "", "p" * 101, "pay_1#frag", "pay_1%2F..%2F"])
def test_an_id_that_is_not_one_path_segment_is_refused_before_any_request(
        external_id: str, fake: FakeAsaas) -> None:
    with pytest.raises(PermanentError) as raised:
        adapter(fake).cancel_invoice(external_id, "k")
    assert raised.value.code == "bad_external_id"
    assert fake.requests == []


def test_a_server_whose_pages_never_end_is_stopped(
        fake: FakeAsaas, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(asaas_module, "MAX_PAGES", 5)
    fake.customers["cus_1"] = {"id": "cus_1"}
    fake.payments["pay_1"] = {"id": "pay_1", "customer": "cus_1", "status": "PENDING", "value": 10.0,
                              "dueDate": "2026-12-10", "externalReference": "inv", "deleted": False}
    fake.always_more = True
    with pytest.raises(PermanentError) as raised:
        adapter(fake).open_receivables()
    assert raised.value.code == "asaas_too_many"
    assert len(fake.requests) == 5


def test_a_huge_answer_is_not_taken_in(fake: FakeAsaas) -> None:
    fake.fail_next(400, "invalid", "x" * 2_500_000)
    with pytest.raises(TransientError) as raised:
        adapter(fake).check()
    assert "more than" in str(raised.value)


def test_a_retry_after_far_in_the_future_is_capped_at_an_hour(fake: FakeAsaas) -> None:
    fake.fail_next(429, retry_after=10**9)
    with pytest.raises(TransientError) as raised:
        adapter(fake).check()
    assert raised.value.retry_after == 3600


def test_amounts_in_asaas_json_are_read_as_decimals_not_floats(fake: FakeAsaas) -> None:
    from connectors.accounting.asaas_wire import remote_payment

    paid = remote_payment({"id": "pay_1", "value": 0.1 + 0.2, "billingType": "PIX",
                           "paymentDate": "2026-12-01", "externalReference": "inv"})
    assert paid.amount == Decimal("0.30")
    assert paid.paid_at.astimezone(UTC) == datetime(2026, 12, 1, 3, tzinfo=UTC)
