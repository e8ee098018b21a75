"""Guessing a client's secret at ``POST /v1/token``, replayed against ``despacho api`` as shipped.

Callers come from different loopback addresses (127.0.0.1, .2, .3: the socket
peer the server sees), so the limits are judged on real connections.
"""

from __future__ import annotations

from collections.abc import Callable

import httpx

TOKEN_LIMITS = {"token_rate_limit": "10/minute", "token_failure_limit": "5/minute"}


def caller(url: str, address: str) -> httpx.Client:
    return httpx.Client(base_url=url, transport=httpx.HTTPTransport(local_address=address), timeout=20)


def form(client_id: str, secret: str) -> dict[str, str]:
    return {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}


def test_guessing_a_secret_locks_out_only_the_guesser_for_that_client(
        served_api: Callable[..., str], make_client: Callable[..., tuple[str, str]]) -> None:
    client_id, secret = make_client("events:write")
    url = served_api(**TOKEN_LIMITS)
    with caller(url, "127.0.0.2") as attacker, caller(url, "127.0.0.3") as owner:
        guesses = [attacker.post("/v1/token", data=form(client_id, f"guess-{n}")).status_code
                   for n in range(6)]
        from_attacker = attacker.post("/v1/token", data=form(client_id, secret)).status_code
        from_owner = owner.post("/v1/token", data=form(client_id, secret))
    assert guesses == [401] * 5 + [429]
    assert from_attacker == 429
    assert from_owner.status_code == 200 and from_owner.json()["access_token"]


def test_a_forged_x_forwarded_for_does_not_reset_the_guessers_budget(
        served_api: Callable[..., str]) -> None:
    url = served_api(**TOKEN_LIMITS)  # no trusted proxies: the header is nobody's word
    # from 127.0.0.1, which uvicorn's own proxy-header handling would trust by default
    with caller(url, "127.0.0.1") as attacker:
        statuses = [attacker.post("/v1/token", data=form(f"dc_{n:02}", "guess"),
                                  headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
                    for n in range(11)]
    assert statuses == [401] * 10 + [429]
