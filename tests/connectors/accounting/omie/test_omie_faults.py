"""Omie's faults as its servers send them, classified into despacho's error kinds."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from connectors.accounting.adapter import Exchange
from connectors.accounting.omie import OmieAdapter
from connectors.accounting.omie_faults import classify
from errors import PermanentError, TransientError
from tests.connectors.accounting.omie.support import (
    customer,
    invoice,
)
from tests.fakes.omie import FakeOmie

Make = Callable[..., OmieAdapter]


@pytest.mark.parametrize(("status", "faultstring", "faultcode", "kind", "retry_after"), [
    (500, "ERROR: Lançamento já cadastrado para o Código de Integração [abc] com o ID [9] !",
     "SOAP-ENV:Client-102", "duplicate", None),
    (500, "O código de integração [abc] já foi cadastrado anteriormente.", "SOAP-ENV:Client-101",
     "duplicate", None),
    (500, "ERROR: Lançamento não cadastrado para o Código de Integração [x] !", "SOAP-ENV:Client-103",
     "not_found", None),
    (500, "OS não encontrada.", "SOAP-ENV:Client-5001", "not_found", None),
    (500, "ERROR: Não existem registros para a página [3]!", "SOAP-ENV:Client-5113", "no_records", None),
    (500, "ERROR: Consumo redundante detectado. Aguarde 5 segundos", "SOAP-ENV:Client-6", "redundant", 6.0),
    (500, "ERROR: API bloqueada por consumo indevido. Tente novamente em 1678 segundos.",
     "MISUSE_API_PROCESS", "blocked", 1679.0),
    (500, "qualquer texto", "MISUSE_API_PROCESS", "blocked", 900.0),
    (429, "Too many requests", "", "rate_limited", 60.0),
    (500, "ERROR: A chave de acesso não está preenchida ou não é válida!", "SOAP-ENV:Client-5",
     "unauthorized", None),
    (500, "ERROR: Tag [codigo_categoria] obrigatória não informada!", "SOAP-ENV:Client-8",
     "validation", None),
    (500, "ERROR: erro interno", "SOAP-ENV:Server", "server", 30.0),
])
def test_faults_are_classified_by_text_then_code(status: int, faultstring: str, faultcode: str, kind: str,
                                                 retry_after: float | None) -> None:
    fault = classify(status, {"faultstring": faultstring, "faultcode": faultcode})
    assert (fault.kind, fault.retry_after) == (kind, retry_after)


def test_500_without_a_fault_body_is_a_server_fault_worth_retrying() -> None:
    assert classify(502, None).kind == "server"
    assert isinstance(classify(503, None).error("push_invoice"), TransientError)


def test_429_honours_the_retry_after_header() -> None:
    assert classify(429, None, "7").retry_after == 7.0


def test_accents_and_case_do_not_hide_a_duplicate() -> None:
    assert classify(500, {"faultstring": "CLIENTE JA CADASTRADO", "faultcode": "x"}).kind == "duplicate"


def _push(adapter: OmieAdapter) -> None:
    client = customer()
    number = adapter.upsert_customer(client, "k").external_id
    adapter.push_invoice(invoice(client), number, "k")


def test_validation_fault_is_permanent_and_carries_omie_text(make_adapter: Make, omie: FakeOmie,
                                                             audit: list[Exchange]) -> None:
    omie.fail_next("ERROR: O valor do documento deve ser maior que zero!", "SOAP-ENV:Client-107",
                   method="IncluirContaReceber")
    with pytest.raises(PermanentError, match="maior que zero") as caught:
        _push(make_adapter())
    assert caught.value.code == "rejected"
    assert audit[-1].outcome == "failed" and audit[-1].status_code == 500
    assert audit[-1].error == "ERROR: O valor do documento deve ser maior que zero!"


def test_wrong_credentials_are_permanent_unauthorized(make_adapter: Make) -> None:
    with pytest.raises(PermanentError) as caught:
        make_adapter(app_secret="wrong").check()
    assert caught.value.code == "unauthorized"


def test_server_error_without_body_is_transient(make_adapter: Make, omie: FakeOmie) -> None:
    omie.fail_next(None, status=502)
    with pytest.raises(TransientError):
        make_adapter().check()


def test_blocked_app_key_is_transient_with_omie_wait(make_adapter: Make, omie: FakeOmie) -> None:
    omie.fail_next("ERROR: API bloqueada por consumo indevido. Tente novamente em 300 segundos.",
                   "MISUSE_API_PROCESS")
    with pytest.raises(TransientError) as caught:
        make_adapter().check()
    assert caught.value.retry_after == 301.0


def test_short_rate_limit_fault_is_waited_out_then_the_call_succeeds(make_adapter: Make, omie: FakeOmie,
                                                                     audit: list[Exchange]) -> None:
    sleeps: list[float] = []
    omie.fail_next("ERROR: Consumo redundante detectado. Aguarde 1 segundos", "SOAP-ENV:Client-6")
    assert make_adapter(sleeps=sleeps).check()["ok"] is True
    assert sleeps == [2.0]
    assert [e.outcome for e in audit] == ["failed", "ok"]


def test_repeated_rate_limit_faults_give_up_after_the_backoff_attempts(make_adapter: Make,
                                                                      omie: FakeOmie) -> None:
    sleeps: list[float] = []
    for _ in range(3):
        omie.fail_next("Too many requests", "", status=429)
    adapter = make_adapter(sleeps=sleeps)
    adapter.client.limiter.max_wait = 60.0  # the 429's default wait is a minute: allow it here
    with pytest.raises(TransientError) as caught:
        adapter.check()
    assert sleeps == [60.0, 60.0] and caught.value.retry_after == 60.0


def test_long_redundancy_wait_goes_back_to_the_runner(make_adapter: Make, omie: FakeOmie) -> None:
    sleeps: list[float] = []
    omie.fail_next("ERROR: Consumo redundante detectado. Aguarde 57 segundos", "SOAP-ENV:Client-6")
    with pytest.raises(TransientError) as caught:
        make_adapter(sleeps=sleeps).check()
    assert caught.value.retry_after == 58.0 and sleeps == []


def test_consulting_the_same_record_twice_within_a_minute_is_redundant(make_adapter: Make) -> None:
    adapter = make_adapter()
    client = customer()
    adapter.upsert_customer(client, "k")
    key = {"codigo_cliente_integracao": client.id}
    adapter.client.call("geral/clientes/", "ConsultarCliente", key, "find")
    with pytest.raises(TransientError) as caught:
        adapter.client.call("geral/clientes/", "ConsultarCliente", key, "find")
    assert caught.value.retry_after is not None and caught.value.retry_after > 2
