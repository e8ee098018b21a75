"""Attacks on the Conta Azul connection: a forged OAuth redirect, hostile names and ids, and a
vendor (or something posing as one) answering with oversized or malicious bodies."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from connectors.accounting.adapter import Exchange
from connectors.accounting.conta_azul import ContaAzulAdapter
from connectors.accounting.conta_azul_auth import check_company, secret_name
from connectors.accounting.conta_azul_client import ContaAzulClient
from connectors.accounting.conta_azul_connect import LoopbackReceiver
from connectors.accounting.conta_azul_errors import classify, retry_after_seconds
from connectors.accounting.settings import AccountingSettings
from errors import PermanentError, TransientError


@pytest.fixture
def receiver() -> Iterator[tuple[LoopbackReceiver, list[str]]]:
    waiting = LoopbackReceiver(0)
    codes: list[str] = []
    thread = threading.Thread(target=lambda: codes.append(waiting.wait(10)), daemon=True)
    thread.start()
    yield waiting, codes
    waiting.result.done.set()
    thread.join(5)


def test_a_redirect_with_a_forged_state_is_refused_and_the_real_one_still_accepted(
        receiver: tuple[LoopbackReceiver, list[str]]) -> None:
    waiting, _ = receiver
    forged = httpx.get(waiting.redirect_uri, params={"code": "attacker-code", "state": "x" * 32})
    assert forged.status_code == 400 and "state does not match" in forged.text
    doubled = httpx.get(f"{waiting.redirect_uri}?code=c&state={waiting.state}&state=other")
    assert doubled.status_code == 400  # a repeated parameter is not guessed at
    assert httpx.get(waiting.redirect_uri.replace("/callback", "/admin")).status_code == 404
    assert httpx.get(waiting.redirect_uri, params={"code": "good", "state": waiting.state}).status_code == 200
    waiting.result.done.wait(5)
    assert waiting.result.code == "good"


def test_the_loopback_receiver_listens_on_the_loopback_interface_only() -> None:
    waiting = LoopbackReceiver(0)
    try:
        assert waiting.server.server_address[0] == "127.0.0.1"
    finally:
        waiting.server.server_close()


@pytest.mark.parametrize("company", ["../../etc", "a/b", "x\nFORGED: log", "ok\n", "", "_hidden", "a" * 101,
                                     "\x00"])
def test_a_hostile_company_name_never_becomes_a_secret_name(company: str) -> None:
    with pytest.raises(PermanentError) as caught:
        secret_name(company)
    assert caught.value.code == "bad_company"


def test_brazilian_company_names_are_accepted() -> None:
    assert check_company("Refrigeração São João Ltda.") == "Refrigeração São João Ltda."


def test_a_hostile_external_id_never_reaches_the_url(settings: AccountingSettings) -> None:
    class Refuse:
        def call(self, *args: Any, **kwargs: Any) -> Any:
            raise AssertionError("no request may be made")

    adapter = ContaAzulAdapter(settings, None, client=Refuse())  # type: ignore[arg-type]
    for hostile in ("../../v1/pessoas", "a?x=1", "a/baixa", "%2e%2e", "x" * 65):
        with pytest.raises(PermanentError) as caught:
            adapter.cancel_invoice(hostile, "k")
        assert caught.value.code == "bad_external_id"


@pytest.fixture
def settings() -> AccountingSettings:
    return AccountingSettings.model_validate({"conta_azul": {"financial_account_id": "a",
                                                             "category_id": "c"}})


def test_a_vendor_retry_after_is_bounded() -> None:
    assert retry_after_seconds("999999999") == 3600
    assert retry_after_seconds("-5") == 0
    assert retry_after_seconds("nan") is None
    assert retry_after_seconds("soon") is None
    error = classify(429, {}, "1e308", "x")
    assert isinstance(error, TransientError) and error.retry_after == 3600


def test_a_hostile_error_body_is_bounded_and_kept_on_one_line() -> None:
    error = classify(400, {"message": "boom\r\nInjected: header " + "A" * 10_000}, None, "invoice.create")
    assert isinstance(error, PermanentError) and error.code == "validation"
    assert "\n" not in str(error) and len(str(error)) < 400


class _Tokens:
    def current(self) -> tuple[int, str]:
        return 1, "secret-access-token"

    def refreshed(self, version: int) -> tuple[int, str]:
        return 2, "secret-access-token-2"


class _Limiter:
    def acquire(self) -> None:
        pass


def client_answering(handler: Callable[[httpx.Request], httpx.Response],
                     audit: list[Exchange]) -> ContaAzulClient:
    http = httpx.Client(transport=httpx.MockTransport(handler))
    return ContaAzulClient("https://api-v2.contaazul.com", http, _Tokens(), _Limiter(),  # type: ignore[arg-type]
                           audit.append)


def test_an_oversized_answer_is_refused_not_parsed() -> None:
    audit: list[Exchange] = []
    client = client_answering(lambda _: httpx.Response(200, content=b"[" + b"1," * 3_000_000 + b"1]"), audit)
    with pytest.raises(PermanentError) as caught:
        client.call("check", "GET", "/v1/pessoas")
    assert caught.value.code == "oversized_response"


def test_a_401_is_retried_once_with_a_new_token_and_no_token_reaches_the_audit() -> None:
    audit: list[Exchange] = []
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(401, json={"error": "invalid_token"})

    client = client_answering(answer, audit)
    with pytest.raises(PermanentError) as caught:
        client.call("check", "GET", "/v1/pessoas")
    assert caught.value.code == "unauthorized"
    assert seen == ["Bearer secret-access-token", "Bearer secret-access-token-2"]  # once, not a loop
    assert "secret-access-token" not in repr(audit)
