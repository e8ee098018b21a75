"""AsaasAdapter against a local server speaking Asaas API v3 (tests/fakes/asaas.py): real httpx calls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from connectors.accounting.adapter import (
    AdapterRuntime,
    CustomerRecord,
    Exchange,
    InvoiceRecord,
    PaymentRecord,
)
from connectors.accounting.asaas import AsaasAdapter
from connectors.accounting.registry import adapter_for
from connectors.accounting.settings import AccountingSettings, AsaasSettings
from errors import PermanentError, TransientError
from tests.fakes.asaas import API_KEY, FakeAsaas, asaas_server

MARIA = CustomerRecord(id="c-0001", name="Maria Souza", tax_id="52998224725", email="maria@example.com",
                       phone="+5511987654321", postal_code="01310-100")


@pytest.fixture
def fake() -> Iterator[FakeAsaas]:
    with asaas_server() as server:
        yield server


@pytest.fixture
def audited() -> list[Exchange]:
    return []


def make_adapter(fake: FakeAsaas, audited: list[Exchange], **overrides: Any) -> AsaasAdapter:
    settings = AsaasSettings.model_validate({"api_url": fake.url, "api_key": API_KEY, "timeout": 2,
                                             **overrides})
    return AsaasAdapter(settings, AdapterRuntime(audit=audited.append))


@pytest.fixture
def adapter(fake: FakeAsaas, audited: list[Exchange]) -> AsaasAdapter:
    return make_adapter(fake, audited)


def invoice(fake: FakeAsaas, amount: str = "1234.56", invoice_id: str = "inv-0001") -> InvoiceRecord:
    return InvoiceRecord(id=invoice_id, number="FAT-202612-0001", customer=MARIA, amount=Decimal(amount),
                         due_date=fake.today + timedelta(days=5), description="Troca do compressor")


def charged(adapter: AsaasAdapter, fake: FakeAsaas, amount: str = "1234.56",
            invoice_id: str = "inv-0001") -> str:
    customer = adapter.upsert_customer(MARIA, "k-c").external_id
    return adapter.push_invoice(invoice(fake, amount, invoice_id), customer, "k-i").external_id


def test_the_registry_builds_the_asaas_adapter(fake: FakeAsaas, audited: list[Exchange]) -> None:
    settings = AccountingSettings.model_validate({"asaas": {"api_url": fake.url, "api_key": API_KEY}})
    assert isinstance(adapter_for("asaas", settings, AdapterRuntime(audit=audited.append)), AsaasAdapter)


def test_check_reads_the_balance_with_the_key_in_the_access_token_header(
        adapter: AsaasAdapter, fake: FakeAsaas) -> None:
    assert adapter.check() == {"system": "asaas", "api_url": fake.url, "balance": "1234.56"}
    assert fake.headers_seen[-1]["access_token"] == API_KEY


def test_a_customer_is_created_once_and_found_by_our_id_the_second_time(
        adapter: AsaasAdapter, fake: FakeAsaas) -> None:
    first = adapter.upsert_customer(MARIA, "k1")
    second = adapter.upsert_customer(MARIA, "k1")

    assert first.status == "created" and second.status == "unchanged"
    assert first.external_id == second.external_id
    assert len(fake.customers) == 1
    body = fake.created("customers")[0]
    assert body == {"name": "Maria Souza", "cpfCnpj": "52998224725", "externalReference": "c-0001",
                    "email": "maria@example.com", "mobilePhone": "11987654321", "postalCode": "01310100"}


def test_a_changed_customer_is_updated_not_duplicated(adapter: AsaasAdapter, fake: FakeAsaas) -> None:
    made = adapter.upsert_customer(MARIA, "k1")
    moved = CustomerRecord(**{**MARIA.__dict__, "email": "maria.souza@example.com"})
    updated = adapter.upsert_customer(moved, "k2")
    assert updated.status == "updated" and updated.external_id == made.external_id
    assert fake.customers[made.external_id]["email"] == "maria.souza@example.com"
    assert len(fake.customers) == 1


def test_a_customer_without_cpf_or_cnpj_is_a_permanent_error_before_any_call(
        adapter: AsaasAdapter, fake: FakeAsaas) -> None:
    with pytest.raises(PermanentError) as raised:
        adapter.upsert_customer(CustomerRecord(**{**MARIA.__dict__, "tax_id": None}), "k1")
    assert raised.value.code == "missing_tax_id" and "customers.tax_id" in str(raised.value)
    assert fake.requests == []


def test_a_charge_carries_our_invoice_id_the_amount_to_the_centavo_and_fine_and_interest(
        fake: FakeAsaas, audited: list[Exchange]) -> None:
    adapter = make_adapter(fake, audited, fine_percent="2", interest_percent="1", billing_type="BOLETO")
    customer = adapter.upsert_customer(MARIA, "k").external_id
    remote = adapter.push_invoice(invoice(fake, "1234.565"), customer, "k-i")

    body = fake.created("payments")[0]
    assert body["value"] == 1234.57 and body["externalReference"] == "inv-0001"
    assert body["billingType"] == "BOLETO" and body["dueDate"] == (fake.today + timedelta(days=5)).isoformat()
    assert body["fine"] == {"value": 2.0, "type": "PERCENTAGE"} and body["interest"] == {"value": 1.0}
    assert remote.status == "created" and remote.fields["amount"] == "1234.57"
    assert fake.payments[remote.external_id]["customer"] == customer


def test_undefined_billing_gives_the_pix_code_and_the_boleto_line_in_the_outputs(
        adapter: AsaasAdapter, fake: FakeAsaas) -> None:
    customer = adapter.upsert_customer(MARIA, "k").external_id
    outputs = adapter.push_invoice(invoice(fake, "310.05"), customer, "k-i").outputs

    assert outputs["invoice_url"].startswith("https://sandbox.asaas.com/i/")
    assert outputs["bank_slip_url"].startswith("https://sandbox.asaas.com/b/pdf/")
    assert outputs["pix_payload"].startswith("000201") and outputs["pix_qr_code"]
    assert outputs["pix_expires_at"].endswith("23:59:59")
    assert outputs["boleto_line"].endswith("0000031005") and outputs["barcode"]
    assert outputs["amount"] == "310.05"


def test_a_pix_charge_has_no_boleto_line(fake: FakeAsaas, audited: list[Exchange]) -> None:
    adapter = make_adapter(fake, audited, billing_type="PIX")
    customer = adapter.upsert_customer(MARIA, "k").external_id
    outputs = adapter.push_invoice(invoice(fake), customer, "k-i").outputs
    assert outputs["pix_payload"] and "boleto_line" not in outputs


def test_a_create_whose_answer_timed_out_is_found_again_and_not_charged_twice(
        fake: FakeAsaas, audited: list[Exchange]) -> None:
    adapter = make_adapter(fake, audited, timeout=0.3)
    customer = adapter.upsert_customer(MARIA, "k").external_id
    fake.delay_next_create(1.0)
    with pytest.raises(TransientError):
        adapter.push_invoice(invoice(fake), customer, "k-i")

    retried = adapter.push_invoice(invoice(fake), customer, "k-i")  # the step's retry

    assert len(fake.payments) == 1 and len(fake.created("payments")) == 1
    assert retried.status == "duplicate" and retried.external_id in fake.payments
    assert [e.outcome for e in retried.exchanges if e.operation == "find_charge"] == ["duplicate"]
    assert any(e.operation == "create_charge" and e.outcome == "failed" and e.status_code is None
               for e in audited)


def test_cancel_deletes_the_charge_and_a_repeated_cancel_is_a_duplicate(
        adapter: AsaasAdapter, fake: FakeAsaas) -> None:
    charge = charged(adapter, fake)
    assert adapter.cancel_invoice(charge, "k").status == "DELETED"
    again = adapter.cancel_invoice(charge, "k")
    assert again.status == "DELETED" and again.exchanges[-1].outcome == "duplicate"
    assert fake.payments[charge]["deleted"] is True


def test_cancelling_an_unknown_charge_is_permanent_not_found(adapter: AsaasAdapter) -> None:
    with pytest.raises(PermanentError) as raised:
        adapter.cancel_invoice("pay_000000000999", "k")
    assert raised.value.code == "not_found"


def test_a_partial_refund_sends_the_value_to_the_centavo(adapter: AsaasAdapter, fake: FakeAsaas) -> None:
    charge = charged(adapter, fake, "200.00")
    fake.pay(charge)
    remote = adapter.refund(charge, Decimal("50.105"), "k")
    assert fake.requests[-1][2] == {"value": 50.11}
    assert remote.status == "REFUNDED" and remote.fields["refunded"] == "50.11"


def test_a_repeated_refund_is_a_duplicate_not_an_error(adapter: AsaasAdapter, fake: FakeAsaas) -> None:
    charge = charged(adapter, fake)
    fake.pay(charge)
    adapter.refund(charge, None, "k")
    again = adapter.refund(charge, None, "k")
    assert again.status == "REFUNDED" and again.exchanges[-1].outcome == "duplicate"


def test_refunding_an_unpaid_charge_is_permanent_with_asaas_description(
        adapter: AsaasAdapter, fake: FakeAsaas) -> None:
    charge = charged(adapter, fake)
    with pytest.raises(PermanentError) as raised:
        adapter.refund(charge, None, "k")
    assert raised.value.code == "asaas_validation" and "Só é possível estornar" in str(raised.value)


def test_our_payment_settles_the_charge_in_cash_once(adapter: AsaasAdapter, fake: FakeAsaas) -> None:
    charge = charged(adapter, fake, "99.90")
    paid = PaymentRecord(id="p1", invoice_id="inv-0001", amount=Decimal("99.90"), method="cash",
                         paid_at=datetime(2026, 12, 7, 15, tzinfo=UTC))
    assert adapter.settle(paid, charge, "k").status == "RECEIVED_IN_CASH"
    assert fake.requests[-1][2] == {"paymentDate": "2026-12-07", "value": 99.9, "notifyCustomer": False}
    again = adapter.settle(paid, charge, "k")
    assert again.exchanges[-1].outcome == "duplicate"


def test_an_nfse_is_scheduled_for_the_charge_and_found_again_on_retry(
        fake: FakeAsaas, audited: list[Exchange]) -> None:
    adapter = make_adapter(fake, audited, municipal_service_code="07.10")
    charge = charged(adapter, fake, "480.00")
    first = adapter.issue_service_invoice(invoice(fake, "480.00"), charge, "k")
    second = adapter.issue_service_invoice(invoice(fake, "480.00"), charge, "k")

    assert first.status == "SCHEDULED" and second.external_id == first.external_id
    assert len(fake.invoices) == 1
    body = fake.created("invoices")[0]
    assert body["payment"] == charge and body["value"] == 480.0 and body["municipalServiceCode"] == "07.10"
    assert body["serviceDescription"] and body["effectiveDate"] and body["externalReference"] == "inv-0001"


def test_an_nfse_for_a_paid_charge_is_authorised_at_once(fake: FakeAsaas, audited: list[Exchange]) -> None:
    adapter = make_adapter(fake, audited, municipal_service_code="07.10")
    charge = charged(adapter, fake)
    fake.pay(charge)
    remote = adapter.issue_service_invoice(invoice(fake), charge, "k")
    assert remote.status == "AUTHORIZED" and remote.outputs["nfse_pdf_url"]


def test_an_nfse_without_a_municipal_service_code_says_which_setting_to_set(
        adapter: AsaasAdapter, fake: FakeAsaas) -> None:
    with pytest.raises(PermanentError) as raised:
        adapter.issue_service_invoice(invoice(fake), "pay_1", "k")
    assert "municipal_service_code" in str(raised.value)


def test_a_400_is_permanent_with_asaas_description(adapter: AsaasAdapter, fake: FakeAsaas) -> None:
    customer = adapter.upsert_customer(MARIA, "k").external_id
    late = InvoiceRecord(**{**invoice(fake).__dict__, "due_date": fake.today - timedelta(days=1)})
    with pytest.raises(PermanentError) as raised:
        adapter.push_invoice(late, customer, "k")
    assert raised.value.code == "asaas_validation"
    assert "invalid_dueDate: Não é permitido data de vencimento inferior a hoje." in str(raised.value)


def test_a_429_is_transient_with_the_retry_after_asaas_gave(adapter: AsaasAdapter, fake: FakeAsaas) -> None:
    fake.fail_next(429, "rate_limit", "Limite de requisições excedido", retry_after=17)
    with pytest.raises(TransientError) as raised:
        adapter.check()
    assert raised.value.retry_after == 17


def test_a_500_is_transient(adapter: AsaasAdapter, fake: FakeAsaas) -> None:
    fake.fail_next(503)
    with pytest.raises(TransientError):
        adapter.upsert_customer(MARIA, "k")


def test_a_refused_key_is_permanent_asaas_auth(fake: FakeAsaas, audited: list[Exchange]) -> None:
    adapter = make_adapter(fake, audited, api_key="$aact_wrong")
    with pytest.raises(PermanentError) as raised:
        adapter.check()
    assert raised.value.code == "asaas_auth" and "api_key" in str(raised.value)


def test_no_api_key_is_a_permanent_error_naming_the_setting(fake: FakeAsaas) -> None:
    with pytest.raises(PermanentError) as raised:
        AsaasAdapter(AsaasSettings(api_url=fake.url), AdapterRuntime(audit=lambda e: None))
    assert "connectors.accounting.asaas.api_key" in str(raised.value)


def test_a_server_that_does_not_answer_is_transient(audited: list[Exchange]) -> None:
    from tests.fakes.ports import free_port

    settings = AsaasSettings.model_validate({"api_url": f"http://127.0.0.1:{free_port()}/v3",
                                             "api_key": API_KEY, "timeout": 1})
    with pytest.raises(TransientError):
        AsaasAdapter(settings, AdapterRuntime(audit=audited.append)).check()
    assert audited[-1].outcome == "failed"


def test_payments_since_reads_every_page(adapter: AsaasAdapter, fake: FakeAsaas) -> None:
    customer = adapter.upsert_customer(MARIA, "k").external_id
    for n in range(205):
        charge = adapter.push_invoice(invoice(fake, f"{10 + n}.01", f"inv-{n:04d}"), customer, "k")
        fake.pay(charge.external_id, billing_type="BOLETO" if n % 2 else "PIX",
                 on=date(2026, 12, 1) + timedelta(days=n % 3))
    paid = adapter.payments_since(datetime(2026, 12, 2, 12, tzinfo=UTC))

    assert len(paid) == len([n for n in range(205) if n % 3 >= 1])
    pages = [q for q in fake.queries if "paymentDate[ge]" in q]
    assert [(q["paymentDate[ge]"], q["offset"], q["limit"]) for q in pages] == [
        ("2026-12-02", "0", "100"), ("2026-12-02", "100", "100")]
    assert len({p.invoice_id for p in paid}) == len(paid)
    first = next(p for p in paid if p.invoice_id == "inv-0001")
    assert (first.amount, first.method) == (Decimal("11.01"), "boleto")
    assert first.paid_at.date() == date(2026, 12, 2)


def test_open_receivables_lists_pending_and_overdue_charges(adapter: AsaasAdapter, fake: FakeAsaas) -> None:
    customer = adapter.upsert_customer(MARIA, "k").external_id
    for n in range(3):
        adapter.push_invoice(invoice(fake, "75.50", f"inv-{n}"), customer, "k")
    fake.payments["pay_000000000003"]["status"] = "OVERDUE"
    fake.pay("pay_000000000004")
    open_ = adapter.open_receivables()
    assert sorted((r.invoice_id, r.status, r.amount) for r in open_) == [
        ("inv-0", "PENDING", Decimal("75.50")), ("inv-1", "OVERDUE", Decimal("75.50"))]


def test_the_api_key_never_reaches_the_audit(fake: FakeAsaas, audited: list[Exchange]) -> None:
    adapter = make_adapter(fake, audited)
    charged(adapter, fake)
    fake.fail_next(400, "invalid_x", f"echo {API_KEY}")
    with pytest.raises(PermanentError):
        adapter.check()
    assert audited and API_KEY not in repr(audited)
    assert all(len(str(e.response)) < 5000 for e in audited)  # the QR image kept as its length
