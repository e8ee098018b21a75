"""The Omie adapter against a local server speaking Omie's wire: each interface call end to end."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal

import pytest

from connectors.accounting.adapter import AdapterRuntime, Exchange
from connectors.accounting.omie import OmieAdapter
from connectors.accounting.omie_records import integration_code
from connectors.accounting.registry import adapter_for
from connectors.accounting.settings import AccountingSettings
from errors import PermanentError, TransientError
from tests.connectors.accounting.omie.support import (
    CPF,
    ZONE,
    customer,
    invoice,
    payment,
    settings_for,
)
from tests.fakes.omie import FakeOmie

Make = Callable[..., OmieAdapter]


def pushed(adapter: OmieAdapter, amount: str = "1234.56", **fields: object) -> tuple[object, object]:
    client = customer()
    remote_customer = adapter.upsert_customer(client, "k:customer")
    inv = invoice(client, amount, **fields)
    return inv, adapter.push_invoice(inv, remote_customer.external_id, "k:invoice")


def test_registry_builds_the_omie_adapter_lazily(omie: FakeOmie) -> None:
    settings = AccountingSettings(transport="live", erp="omie", omie=settings_for(omie))
    adapter = adapter_for("omie", settings, AdapterRuntime(audit=lambda _: None))
    assert isinstance(adapter, OmieAdapter) and adapter.system == "omie"


def test_check_lists_one_customer_and_changes_nothing(make_adapter: Make, omie: FakeOmie) -> None:
    assert make_adapter().check() == {"system": "omie", "ok": True, "customers": 0}
    assert omie.customers == {} and omie.calls_of("ListarClientes")


def test_customer_upsert_sends_our_id_formatted_tax_id_and_split_phone(make_adapter: Make,
                                                                       omie: FakeOmie) -> None:
    client = customer()
    remote = make_adapter().upsert_customer(client, "k")
    sent = omie.calls_of("UpsertCliente")[0]
    assert sent["codigo_cliente_integracao"] == client.id
    assert sent["cnpj_cpf"] == "11.222.333/0001-81" and sent["pessoa_fisica"] == "N"
    assert (sent["telefone1_ddd"], sent["telefone1_numero"]) == ("11", "987654321")
    assert sent["razao_social"] == "Refrigeração Paulista Ltda" and sent["estado"] == "SP"
    assert remote.external_id == str(omie.customers[int(remote.external_id)]["codigo_cliente_omie"])
    assert remote.status == "ok" and [e.operation for e in remote.exchanges] == ["upsert_customer"]


def test_customer_upsert_again_updates_the_same_omie_customer(make_adapter: Make, omie: FakeOmie) -> None:
    adapter = make_adapter()
    client = customer(tax_id=CPF)
    first = adapter.upsert_customer(client, "k")
    second = adapter.upsert_customer(customer(id=client.id, tax_id=CPF, email="novo@example.com"), "k")
    assert first.external_id == second.external_id and len(omie.customers) == 1
    assert omie.customers[int(first.external_id)]["cnpj_cpf"] == "529.982.247-25"


def test_receivable_create_carries_integration_code_banking_day_and_amount(make_adapter: Make,
                                                                           omie: FakeOmie) -> None:
    # 2026-12-25 is Christmas: a boleto cannot fall due on it
    inv, remote = pushed(make_adapter(), "1234.56", due_date=date(2026, 12, 25))
    sent = omie.calls_of("IncluirContaReceber")[0]
    assert sent["codigo_lancamento_integracao"] == integration_code(inv.id)  # type: ignore[attr-defined]
    assert sent["data_vencimento"] == "28/12/2026"  # Friday 25th is a holiday, then the weekend... Monday
    assert sent["valor_documento"] == 1234.56 and sent["codigo_categoria"] == "1.01.02"
    assert sent["id_conta_corrente"] == 4242 and isinstance(sent["codigo_cliente_fornecedor"], int)
    assert remote.status == "created" and remote.fields["amount"] == "1234.56"  # type: ignore[attr-defined]
    stored = omie.receivables[int(remote.external_id)]  # type: ignore[attr-defined]
    assert Decimal(str(stored["valor_documento"])) == Decimal("1234.56")


@pytest.mark.parametrize(("amount", "wire"), [("0.10", 0.1), ("10.005", 10.01), ("99999.99", 99999.99),
                                              ("1.1", 1.1), ("2.675", 2.68)])
def test_amounts_reach_omie_to_the_centavo(make_adapter: Make, omie: FakeOmie, amount: str,
                                           wire: float) -> None:
    _, remote = pushed(make_adapter(), amount)
    assert omie.calls_of("IncluirContaReceber")[0]["valor_documento"] == wire
    stored = omie.receivables[int(remote.external_id)]  # type: ignore[attr-defined]
    expected = Decimal(amount).quantize(Decimal("0.01"), "ROUND_HALF_UP")
    assert Decimal(str(stored["valor_documento"])) == expected


def test_lost_answer_then_retry_finds_the_first_receivable(make_adapter: Make, omie: FakeOmie,
                                                           audit: list[Exchange]) -> None:
    adapter = make_adapter()
    client = customer()
    customer_id = adapter.upsert_customer(client, "k").external_id
    inv = invoice(client, "560.40")
    omie.drop_next("IncluirContaReceber")  # Omie saves it, the answer never arrives
    with pytest.raises(TransientError):
        adapter.push_invoice(inv, customer_id, "k:invoice")
    remote = adapter.push_invoice(inv, customer_id, "k:invoice")
    assert len(omie.receivables) == 1 and remote.status == "duplicate"
    assert remote.external_id == str(next(iter(omie.receivables)))
    assert remote.fields["amount"] == "560.40" and remote.fields["due_date"] == "2026-12-21"
    assert [(e.operation, e.outcome) for e in remote.exchanges] == [("push_invoice", "duplicate"),
                                                                  ("find_receivable", "ok")]
    assert [e.outcome for e in audit if e.operation == "push_invoice"] == ["failed", "duplicate"]


def test_timeout_after_omie_saved_then_retry_makes_no_second_receivable(make_adapter: Make,
                                                                        omie: FakeOmie) -> None:
    adapter = make_adapter(timeout=0.3)
    client = customer()
    customer_id = adapter.upsert_customer(client, "k").external_id
    inv = invoice(client)
    omie.slow(0.6)
    with pytest.raises(TransientError, match="timeout"):
        adapter.push_invoice(inv, customer_id, "k")
    omie.slow(0)
    assert adapter.push_invoice(inv, customer_id, "k").status == "duplicate"
    assert len(omie.receivables) == 1


def test_settlement_posts_a_baixa_with_our_payment_code(make_adapter: Make, omie: FakeOmie) -> None:
    adapter = make_adapter()
    inv, remote = pushed(adapter, "300.33")
    pay = payment(inv)  # type: ignore[arg-type]
    settled = adapter.settle(pay, remote.external_id, "k:pay")  # type: ignore[attr-defined]
    sent = omie.calls_of("LancarRecebimento")[0]
    assert sent["valor"] == 300.33 and sent["data"] == "18/12/2026" and sent["codigo_conta_corrente"] == 4242
    assert sent["codigo_baixa_integracao"] == integration_code(pay.id)
    assert settled.status == "settled" and settled.external_id in {str(n) for n in omie.settlements}
    assert omie.receivables[int(remote.external_id)]["status_titulo"] == "RECEBIDO"  # type: ignore[attr-defined]


def test_partial_settlement_leaves_the_receivable_open(make_adapter: Make, omie: FakeOmie) -> None:
    adapter = make_adapter()
    inv, remote = pushed(adapter, "100.00")
    settled = adapter.settle(payment(inv, "40.01"), remote.external_id, "k")  # type: ignore[arg-type,attr-defined]
    assert settled.status == "partially_settled"
    assert omie.receivables[int(remote.external_id)]["_paid"] == Decimal("40.01")  # type: ignore[attr-defined]


def test_settlement_repeated_is_a_duplicate_not_a_second_baixa(make_adapter: Make, omie: FakeOmie) -> None:
    adapter = make_adapter()
    inv, remote = pushed(adapter, "80.00")
    pay = payment(inv, "30.00")  # type: ignore[arg-type]
    adapter.settle(pay, remote.external_id, "k")  # type: ignore[attr-defined]
    again = adapter.settle(pay, remote.external_id, "k")  # type: ignore[attr-defined]
    assert again.status == "duplicate" and len(omie.settlements) == 1
    assert again.fields["amount"] == "80.00"


def test_settlement_without_account_code_is_refused_before_sending(make_adapter: Make,
                                                                   omie: FakeOmie) -> None:
    adapter = make_adapter()
    inv, remote = pushed(adapter)
    with pytest.raises(PermanentError) as caught:
        make_adapter(account_code=None).settle(payment(inv), remote.external_id, "k")  # type: ignore[arg-type,attr-defined]
    assert caught.value.code == "not_configured" and not omie.calls_of("LancarRecebimento")


def test_cancel_marks_the_receivable_cancelled_and_a_repeat_is_harmless(make_adapter: Make,
                                                                        omie: FakeOmie) -> None:
    adapter = make_adapter()
    _, remote = pushed(adapter)
    external_id = remote.external_id  # type: ignore[attr-defined]
    assert adapter.cancel_invoice(external_id, "k").status == "cancelled"
    assert omie.receivables[int(external_id)]["status_titulo"] == "CANCELADO"
    assert adapter.cancel_invoice(external_id, "k").status == "already_cancelled"


def test_cancel_of_unknown_receivable_is_permanent_not_found(make_adapter: Make) -> None:
    with pytest.raises(PermanentError) as caught:
        make_adapter().cancel_invoice("999", "k")
    assert caught.value.code == "not_found"


def test_refund_undoes_the_whole_baixa(make_adapter: Make, omie: FakeOmie) -> None:
    adapter = make_adapter()
    inv, remote = pushed(adapter, "50.00")
    settled = adapter.settle(payment(inv), remote.external_id, "k")  # type: ignore[arg-type,attr-defined]
    assert adapter.refund(settled.external_id, None, "k").status == "settlement_cancelled"
    assert omie.settlements == {}
    with pytest.raises(PermanentError, match="part of a settlement"):
        adapter.refund(settled.external_id, Decimal("1.00"), "k")


def test_service_order_is_created_and_invoiced_for_the_nfse(make_adapter: Make, omie: FakeOmie) -> None:
    adapter = make_adapter(service_code="3001")
    inv, remote = pushed(adapter, "750.25")
    issued = adapter.issue_service_invoice(inv, remote.external_id, "k")  # type: ignore[arg-type,attr-defined]
    sent = omie.calls_of("IncluirOS")[0]
    assert sent["Cabecalho"]["cCodIntOS"] == integration_code(inv.order_id)  # type: ignore[attr-defined]
    assert sent["Cabecalho"]["cEtapa"] == "50" and sent["Cabecalho"]["cCodIntCli"] == inv.customer.id  # type: ignore[attr-defined]
    service = sent["ServicosPrestados"][0]
    assert service["nValUnit"] == 750.25 and service["cNaoGerarFinanceiro"] == "S"
    assert service["nCodServico"] == 3001
    assert omie.calls_of("FaturarOS") == [{"nCodOS": int(issued.external_id)}]
    assert omie.orders[int(issued.external_id)]["InfoCadastro"]["cFaturada"] == "S"
    assert issued.status == "invoicing" and issued.outputs == {"service_order_id": issued.external_id}


def test_service_invoice_retried_after_lost_answer_invoices_once(make_adapter: Make, omie: FakeOmie) -> None:
    adapter = make_adapter()
    inv, remote = pushed(adapter)
    omie.drop_next("FaturarOS")
    with pytest.raises(TransientError):
        adapter.issue_service_invoice(inv, remote.external_id, "k")  # type: ignore[arg-type,attr-defined]
    again = adapter.issue_service_invoice(inv, remote.external_id, "k")  # type: ignore[arg-type,attr-defined]
    assert len(omie.orders) == 1 and len(omie.calls_of("FaturarOS")) == 1
    assert [e.operation for e in again.exchanges] == ["create_service_order", "find_service_order"]


def test_payments_since_pages_through_received_receivables(make_adapter: Make, omie: FakeOmie,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("connectors.accounting.omie.PAGE_SIZE", 2)
    adapter = make_adapter()
    client = customer()
    customer_id = adapter.upsert_customer(client, "k").external_id
    invoices = [invoice(client, f"{100 + n}.{n:02d}") for n in range(5)]
    for inv in invoices:
        adapter.push_invoice(inv, customer_id, "k")
    for inv in invoices[:4]:
        omie.receive(integration_code(inv.id), inv.amount, "17/12/2026", "09:15:00")
    omie.receive(integration_code(invoices[4].id), Decimal("1.00"), "17/12/2026")  # partial: still open
    found = adapter.payments_since(datetime(2026, 12, 17, 9, 0, tzinfo=ZONE))
    assert [p.amount for p in found] == [Decimal(v) for v in ("100.00", "101.01", "102.02", "103.03")]
    assert [c["pagina"] for c in omie.calls_of("ListarContasReceber")] == [1, 2]
    first = found[0]
    assert first.invoice_id == integration_code(invoices[0].id)
    assert first.paid_at == datetime(2026, 12, 17, 9, 15, tzinfo=ZONE)
    assert first.external_id == f"{first.invoice_external_id}:recebido"


def test_payments_since_skips_what_was_received_before(make_adapter: Make, omie: FakeOmie) -> None:
    adapter = make_adapter()
    inv, _ = pushed(adapter)
    omie.receive(integration_code(inv.id), inv.amount, "10/12/2026", "08:00:00")  # type: ignore[attr-defined]
    assert adapter.payments_since(datetime(2026, 12, 11, tzinfo=ZONE)) == []


def test_payments_since_with_nothing_received_is_empty_not_an_error(make_adapter: Make) -> None:
    assert make_adapter().payments_since(datetime(2026, 12, 1, tzinfo=ZONE)) == []


def test_open_receivables_lists_due_and_overdue_with_amounts(make_adapter: Make, omie: FakeOmie) -> None:
    adapter = make_adapter()
    client = customer()
    customer_id = adapter.upsert_customer(client, "k").external_id
    late = invoice(client, "10.10", due_date=date(2020, 3, 2))
    later = invoice(client, "20.20", due_date=date(2099, 3, 2))
    paid = invoice(client, "30.30")
    for inv in (late, later, paid):
        adapter.push_invoice(inv, customer_id, "k")
    omie.receive(integration_code(paid.id), paid.amount, "01/12/2026")
    found = {r.invoice_id: r for r in adapter.open_receivables()}
    assert set(found) == {integration_code(late.id), integration_code(later.id)}
    assert found[integration_code(late.id)].status == "ATRASADO"
    assert found[integration_code(later.id)].amount == Decimal("20.20")
    assert found[integration_code(later.id)].due_date == date(2099, 3, 2)


def test_payments_since_refuses_a_moment_without_time_zone(make_adapter: Make, omie: FakeOmie) -> None:
    with pytest.raises(PermanentError) as caught:
        make_adapter().payments_since(datetime(2026, 12, 1))
    assert caught.value.code == "naive_datetime" and omie.calls == []
