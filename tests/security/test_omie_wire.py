"""Attacks through Omie's wire: secrets echoed back, oversized or malformed answers, hostile text,
endless pagination, ids that are not ids. Each is refused with a message that says why."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import datetime

import pytest

from connectors.accounting.adapter import Exchange
from connectors.accounting.omie import OmieAdapter
from errors import PermanentError, TransientError
from tests.connectors.accounting.omie.support import ZONE, adapter_factory, customer, invoice
from tests.fakes.omie import APP_KEY, APP_SECRET, FakeOmie, omie_server

Make = Callable[..., OmieAdapter]


@pytest.fixture
def omie() -> Iterator[FakeOmie]:
    with omie_server() as fake:
        yield fake


@pytest.fixture
def audit() -> list[Exchange]:
    return []


@pytest.fixture
def make_adapter(omie: FakeOmie, audit: list[Exchange]) -> Iterator[Make]:
    with adapter_factory(omie, audit) as make:
        yield make


def test_app_key_and_secret_never_reach_the_audit_even_when_omie_echoes_them(
        make_adapter: Make, omie: FakeOmie, audit: list[Exchange]) -> None:
    omie.fail_next(f"ERROR: app_key [{APP_KEY}] app_secret [{APP_SECRET}] inválidos", "SOAP-ENV:Client-5")
    with pytest.raises(PermanentError) as caught:
        make_adapter().check()
    make_adapter().upsert_customer(customer(), "k")
    dumped = json.dumps([exchange.__dict__ for exchange in audit], default=str)
    assert APP_KEY not in dumped and APP_SECRET not in dumped and "***" in dumped
    assert APP_KEY not in str(caught.value) and APP_SECRET not in str(caught.value)
    assert all("app_key" not in e.request and "app_secret" not in e.request for e in audit)
    assert omie.calls[-1]["app_secret"] == APP_SECRET  # they do travel to Omie, where they belong


def test_an_oversized_answer_is_refused_not_read_into_memory(make_adapter: Make, omie: FakeOmie,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("connectors.accounting.omie_client.MAX_BODY", 64 * 1024)
    omie.answer_next({"total_de_registros": 1, "padding": "x" * 200_000})
    with pytest.raises(PermanentError, match="refused") as caught:
        make_adapter().check()
    assert caught.value.code == "bad_response"


def test_a_hostile_faultstring_is_one_bounded_line(make_adapter: Make, omie: FakeOmie,
                                                   audit: list[Exchange]) -> None:
    omie.fail_next("ERROR: " + "A\n\r\x1b[31mB\x00" * 5000, "SOAP-ENV:Client-107")
    with pytest.raises(PermanentError) as caught:
        make_adapter().check()
    message = str(caught.value)
    assert len(message) < 400 and "\n" not in message and "\x1b" not in message and "\x00" not in message
    assert audit[-1].error is not None and len(audit[-1].error) <= 301


def test_a_huge_answer_is_audited_without_its_lists(make_adapter: Make, omie: FakeOmie,
                                                    audit: list[Exchange]) -> None:
    rows = [{"codigo_cliente_omie": n, "razao_social": "x" * 100} for n in range(500)]
    omie.answer_next({"pagina": 1, "total_de_registros": 500, "clientes_cadastro": rows})
    make_adapter().check()
    assert audit[-1].response == {"pagina": 1, "total_de_registros": 500, "_truncated": True}


def test_a_non_json_answer_is_transient_not_a_crash(make_adapter: Make, omie: FakeOmie) -> None:
    omie.fail_next(None, status=200)  # an empty 200: a proxy, a half-deployed server
    with pytest.raises(TransientError, match="not a JSON object"):
        make_adapter().check()


@pytest.mark.parametrize("pages", [10**9, -1, "2", True, 1.5])
def test_a_page_count_that_cannot_be_true_stops_the_listing(make_adapter: Make, omie: FakeOmie,
                                                            pages: object) -> None:
    omie.answer_next({"pagina": 1, "total_de_paginas": pages, "conta_receber_cadastro": []})
    with pytest.raises(PermanentError, match=r"total_de_paginas|pages") as caught:
        make_adapter().payments_since(datetime(2026, 12, 1, tzinfo=ZONE))
    assert caught.value.code == "bad_response"
    assert len(omie.calls_of("ListarContasReceber")) == 1


@pytest.mark.parametrize("amount", ["NaN", "1e999", "dez reais", None, True])
def test_an_amount_from_omie_that_is_not_money_is_refused(make_adapter: Make, omie: FakeOmie,
                                                          amount: object) -> None:
    row = {"codigo_lancamento_omie": 1, "codigo_lancamento_integracao": "x", "valor_documento": amount,
           "data_vencimento": "10/12/2026", "status_titulo": "A VENCER"}
    omie.answer_next({"pagina": 1, "total_de_paginas": 1, "conta_receber_cadastro": [row]})
    with pytest.raises(PermanentError) as caught:
        make_adapter().open_receivables()
    assert caught.value.code == "bad_amount"


def test_a_negative_amount_from_omie_is_refused(make_adapter: Make, omie: FakeOmie) -> None:
    row = {"codigo_lancamento_omie": 1, "valor_documento": -10.5, "data_vencimento": "10/12/2026"}
    omie.answer_next({"pagina": 1, "total_de_paginas": 1, "conta_receber_cadastro": [row]})
    with pytest.raises(PermanentError, match="negative"):
        make_adapter().open_receivables()


@pytest.mark.parametrize("due", ["2026-12-10", "31/02/2026", "10/12/2026; DROP", ""])
def test_a_date_from_omie_that_is_not_a_date_is_refused(make_adapter: Make, omie: FakeOmie, due: str) -> None:
    row = {"codigo_lancamento_omie": 1, "valor_documento": 10, "data_vencimento": due}
    omie.answer_next({"pagina": 1, "total_de_paginas": 1, "conta_receber_cadastro": [row]})
    with pytest.raises(PermanentError, match="data_vencimento") as caught:
        make_adapter().open_receivables()
    assert caught.value.code == "bad_response"


@pytest.mark.parametrize("external_id", ["1 OR 1=1", "-5", "9" * 40, "", "１２３"])
def test_an_external_id_that_is_not_an_omie_number_is_never_sent(make_adapter: Make, omie: FakeOmie,
                                                                  external_id: str) -> None:
    with pytest.raises(PermanentError) as caught:
        make_adapter().cancel_invoice(external_id, "k")
    assert caught.value.code == "bad_external_id" and omie.calls == []


def test_text_longer_than_omie_fields_is_refused_with_the_field_named(make_adapter: Make,
                                                                      omie: FakeOmie) -> None:
    with pytest.raises(PermanentError, match="customer name has 61 characters; Omie takes at most 60"):
        make_adapter().upsert_customer(customer(name="N" * 61), "k")
    assert omie.calls == []


def test_an_invalid_tax_id_is_refused_before_sending(make_adapter: Make, omie: FakeOmie) -> None:
    with pytest.raises(PermanentError, match="check digits") as caught:
        make_adapter().upsert_customer(customer(tax_id="11222333000182"), "k")
    assert caught.value.code == "invalid_tax_id" and omie.calls == []


@pytest.mark.parametrize("amount", ["0", "-1.00", "0.004"])
def test_an_invoice_that_is_not_a_positive_amount_is_never_pushed(make_adapter: Make, omie: FakeOmie,
                                                                  amount: str) -> None:
    client = customer()
    with pytest.raises(PermanentError) as caught:
        make_adapter().push_invoice(invoice(client, amount), "123", "k")
    assert caught.value.code == "bad_amount" and omie.calls_of("IncluirContaReceber") == []
