"""The Conta Azul adapter against a local server speaking API v2: customers, receivables,
settlements, polling, limits and failures; amounts checked to the centavo."""

from __future__ import annotations

import json
import socket
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import httpx
import pytest

from connectors.accounting import conta_azul
from connectors.accounting.adapter import CustomerRecord, Exchange, InvoiceRecord, PaymentRecord
from connectors.accounting.conta_azul import ContaAzulAdapter, poll_once
from errors import PermanentError, TransientError
from tests.fakes.conta_azul import FakeContaAzul

CUSTOMER = CustomerRecord(id="cus-1", name="Padaria Pão Quente Ltda", tax_id="11222333000181",
                          email="contato@paoquente.com.br", phone="+5511987654321")


def invoice(number: str = "FAT-202612-0001", amount: str = "1234.56", invoice_id: str = "inv-1",
            due: date = date(2026, 12, 15)) -> InvoiceRecord:
    return InvoiceRecord(id=invoice_id, number=number, customer=CUSTOMER, amount=Decimal(amount),
                         due_date=due, description="Manutenção do ar-condicionado")


def pushed(adapter: ContaAzulAdapter, record: InvoiceRecord | None = None) -> str:
    customer = adapter.upsert_customer(CUSTOMER, "k-cus")
    return adapter.push_invoice(record or invoice(), customer.external_id, "k-inv").external_id


def test_a_customer_is_created_once_and_found_by_its_cnpj_afterwards(adapter: ContaAzulAdapter,
                                                                     fake: FakeContaAzul) -> None:
    first = adapter.upsert_customer(CUSTOMER, "k1")
    again = adapter.upsert_customer(CUSTOMER, "k1")
    assert (first.status, again.status) == ("created", "found")
    assert first.external_id == again.external_id and len(fake.people) == 1
    created = next(r["body"] for r in fake.requests if r["method"] == "POST")
    assert created["cnpj"] == "11222333000181" and created["tipo_pessoa"] == "Jurídica"


def test_a_receivable_carries_the_amount_to_the_centavo_and_our_invoice_id(
        adapter: ContaAzulAdapter, fake: FakeContaAzul) -> None:
    external_id = pushed(adapter)
    parcel = fake.parcels[external_id]
    assert Decimal(str(parcel["total"])) == Decimal("1234.56")
    assert parcel["referencia_externa"] == "inv-1" and parcel["data_vencimento"] == "2026-12-15"
    body = next(r["body"] for r in fake.requests if r["path"].endswith("contas-a-receber"))
    assert Decimal(str(body["rateio"][0]["valor"])) == Decimal("1234.56")


def test_a_retried_push_finds_the_receivable_instead_of_creating_a_second(
        adapter: ContaAzulAdapter, fake: FakeContaAzul) -> None:
    customer = adapter.upsert_customer(CUSTOMER, "k").external_id
    first = adapter.push_invoice(invoice(), customer, "k-inv")
    again = adapter.push_invoice(invoice(), customer, "k-inv")  # the first answer was "lost"
    assert (first.status, again.status) == ("created", "found")
    assert again.external_id == first.external_id and len(fake.parcels) == 1
    assert again.fields["amount"] == Decimal("1234.56")


def test_a_payment_settles_the_receivable_once(adapter: ContaAzulAdapter, fake: FakeContaAzul) -> None:
    external_id = pushed(adapter)
    payment = PaymentRecord(id="pay-1", invoice_id="inv-1", amount=Decimal("1234.56"), method="pix",
                            paid_at=datetime(2026, 12, 10, 14, 0, tzinfo=UTC))
    settled = adapter.settle(payment, external_id, "k-pay")
    again = adapter.settle(payment, external_id, "k-pay")
    parcel = fake.parcels[external_id]
    assert (settled.status, again.status) == ("settled", "found")
    assert len(parcel["baixas"]) == 1 and parcel["status"] == "RECEBIDO"
    assert Decimal(str(parcel["pago"])) == Decimal("1234.56")
    assert parcel["baixas"][0]["metodo_pagamento"] == "PIX_PAGAMENTO_INSTANTANEO"
    assert parcel["baixas"][0]["data_pagamento"] == "2026-12-10"


def test_polling_finds_a_payment_made_in_the_erp(adapter: ContaAzulAdapter, fake: FakeContaAzul) -> None:
    external_id = pushed(adapter)
    since = datetime.now(UTC) - timedelta(minutes=1)
    assert adapter.payments_since(since) == []
    settlement_id = fake.settle_in_erp(external_id, "1000.01", paid_on=date(2026, 12, 12))
    payments, _ = poll_once(adapter, since, datetime.now(UTC))
    assert len(payments) == 1
    found = payments[0]
    assert (found.external_id, found.invoice_id) == (settlement_id, "inv-1")
    assert found.invoice_external_id == external_id
    assert found.amount == Decimal("1000.01") and found.method == "pix"
    assert found.paid_at.date() == date(2026, 12, 12)


def test_open_receivables_are_read_page_by_page(adapter: ContaAzulAdapter, fake: FakeContaAzul,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(conta_azul, "PAGE_SIZE", 2)
    customer = adapter.upsert_customer(CUSTOMER, "k").external_id
    for n in range(5):
        adapter.push_invoice(invoice(f"FAT-{n}", f"10{n}.0{n}", f"inv-{n}"), customer, f"k{n}")
    listed = adapter.open_receivables()
    pages = [r["query"]["pagina"] for r in fake.requests if r["path"].endswith("/buscar")][-3:]
    assert pages == ["1", "2", "3"]
    assert sorted(r.amount for r in listed) == [Decimal(f"10{n}.0{n}") for n in range(5)]
    assert {r.invoice_id for r in listed} == {f"inv-{n}" for n in range(5)}


def test_cancelling_deletes_the_receivable_and_a_second_cancel_is_harmless(
        adapter: ContaAzulAdapter, fake: FakeContaAzul) -> None:
    external_id = pushed(adapter)
    assert adapter.cancel_invoice(external_id, "k").status == "cancelled"
    assert adapter.cancel_invoice(external_id, "k").status == "cancelled"
    assert external_id not in fake.parcels


def test_429_is_transient_with_the_vendors_retry_after(adapter: ContaAzulAdapter,
                                                       fake: FakeContaAzul) -> None:
    adapter.check()
    fake.fail_next(429, "Too many requests", retry_after=7)
    with pytest.raises(TransientError) as caught:
        adapter.upsert_customer(CUSTOMER, "k")
    assert caught.value.retry_after == 7
    assert adapter.upsert_customer(CUSTOMER, "k").status == "created"


def test_5xx_is_transient_and_a_validation_error_is_permanent_with_the_message(
        adapter: ContaAzulAdapter, fake: FakeContaAzul) -> None:
    adapter.check()
    fake.fail_next(503)
    with pytest.raises(TransientError):
        adapter.check()
    customer = adapter.upsert_customer(CUSTOMER, "k").external_id
    with pytest.raises(PermanentError) as caught:
        adapter.push_invoice(invoice(amount="0.00"), customer, "k")
    assert caught.value.code == "validation" and "maior que zero" in str(caught.value)


def test_a_timeout_is_transient(adapter: ContaAzulAdapter, fake: FakeContaAzul) -> None:
    adapter.check()
    with socket.socket() as silent:  # listens, never answers: the read times out
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        adapter.client.base_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        adapter.client.http.timeout = httpx.Timeout(0.3)
        with pytest.raises(TransientError, match="timed out"):
            adapter.check()


def test_calls_wait_for_the_per_second_limit_instead_of_getting_429(
        adapter: ContaAzulAdapter, fake: FakeContaAzul) -> None:
    limiter = adapter.client.limiter
    limiter.key = f"limit-test-{uuid.uuid4()}"  # the in-memory windows live as long as the process
    limiter.items[0] = type(limiter.items[0])(3)  # 3 a second, for a short test
    for _ in range(7):
        adapter.check()
    stats = limiter.limiter.get_window_stats(limiter.items[0], "conta_azul", limiter.key)
    assert stats.remaining >= 0 and len([r for r in fake.requests if r["path"] == "/v1/pessoas"]) == 7


def test_a_call_beyond_the_wait_is_transient_with_retry_after(adapter: ContaAzulAdapter) -> None:
    limiter = adapter.client.limiter
    limiter.key, limiter.max_wait = f"limit-wait-test-{uuid.uuid4()}", 0.0
    limiter.items[1] = type(limiter.items[1])(2)  # 2 a minute
    adapter.check()
    adapter.check()
    with pytest.raises(TransientError) as caught:
        adapter.check()
    assert caught.value.retry_after is not None and 0 < caught.value.retry_after <= 60


def test_the_audit_has_every_exchange_and_no_token(adapter: ContaAzulAdapter, audit: list[Exchange],
                                                   fake: FakeContaAzul) -> None:
    pushed(adapter)
    operations = [e.operation for e in audit]
    assert {"customer.find", "customer.create", "invoice.find", "invoice.create"} <= set(operations)
    text = json.dumps([e.__dict__ for e in audit], default=str)
    assert "Bearer" not in text and "at-" not in text and "rt-" not in text


def test_refunds_and_nfse_are_refused_as_unsupported(adapter: ContaAzulAdapter) -> None:
    with pytest.raises(PermanentError, match="payment provider"):
        adapter.refund("x", None, "k")
    with pytest.raises(PermanentError) as caught:
        adapter.issue_service_invoice(invoice(), "x", "k")
    assert caught.value.code == "unsupported"


def test_the_registry_builds_the_adapter_lazily(settings: object, runtime: object) -> None:
    from connectors.accounting.registry import ADAPTERS

    assert "conta_azul" in ADAPTERS
