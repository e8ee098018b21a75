"""Every /v1 endpoint refuses callers without a valid token (401) or without its scope (403)."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

import jwt
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api.settings import ApiSettings
from engine.settings import Settings
from store.db import make_engine
from tests.api.conftest import JWT_KEY, forge_token

SCHEME = "client_credentials"


def protected_routes() -> list[tuple[str, str, str]]:
    """(method, path with dummy ids, required scope) for every route that needs a token."""
    from api.app import create_app

    app = create_app(Settings(), api=ApiSettings(jwt_keys=f"t1:{JWT_KEY}"), engine=make_engine("sqlite://"))
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            scopes = [s for requirement in operation.get("security", []) for s in requirement.get(SCHEME, [])]
            if scopes:
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "some-id", path), scopes[0]))
    return found


ROUTES = protected_routes()
IDS = [f"{m} {p}" for m, p, _ in ROUTES]


def test_every_v1_route_except_the_token_exchange_needs_a_token() -> None:
    paths = {p for _, p, _ in ROUTES}
    assert "/v1/events" in paths and "/v1/service-orders/some-id/status" in paths
    assert "/v1/token" not in paths
    assert len(ROUTES) >= 30


def call(client: TestClient, method: str, path: str, token: str | None) -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    response = client.request(method, path, headers=headers)
    assert response.headers["content-type"].startswith("application/json")
    return {"status": response.status_code, **response.json()["error"],
            "challenge": response.headers.get("www-authenticate")}


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES, ids=IDS)
def test_no_token_is_401_missing_token(client: TestClient, method: str, path: str, scope: str) -> None:
    result = call(client, method, path, None)
    assert (result["status"], result["code"]) == (401, "missing_token")
    assert result["challenge"].startswith("Bearer")


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES, ids=IDS)
def test_bad_tokens_are_401(client: TestClient, make_client: Callable[..., tuple[str, str]],
                            method: str, path: str, scope: str) -> None:
    client_id, _ = make_client(scope)
    now = int(time.time())
    bad = {
        "token_expired": forge_token(sub=client_id, scope=scope, iat=now - 4000, exp=now - 3000),
        "wrong audience": forge_token(sub=client_id, scope=scope, aud="someone-else"),
        "wrong signature": forge_token(sub=client_id, scope=scope, key="another-key-" + "y" * 40),
        "alg none": jwt.encode({"sub": client_id, "scope": scope, "iss": "despacho", "aud": "despacho-api",
                                "exp": now + 300, "iat": now, "jti": "j"}, None, algorithm="none",
                               headers={"kid": "t1"}),
        "no jti": forge_token(sub=client_id, scope=scope, jti=None),
        "unknown kid": forge_token(sub=client_id, scope=scope, kid="nope"),
        "not a jwt": "abc.def",
    }
    for name, token in bad.items():
        result = call(client, method, path, token)
        assert result["status"] == 401, name
        expected = "token_expired" if name == "token_expired" else "invalid_token"
        assert result["code"] == expected, name
        assert 'error="invalid_token"' in result["challenge"], name


@pytest.mark.parametrize(("method", "path", "scope"), ROUTES, ids=IDS)
def test_a_token_without_the_scope_is_403(client: TestClient, token_for: Callable[..., str],
                                          method: str, path: str, scope: str) -> None:
    other = "backups:read" if scope != "backups:read" else "events:write"
    result = call(client, method, path, token_for(other))
    assert (result["status"], result["code"]) == (403, "insufficient_scope")
    assert result["details"]["required"] == [scope]


def test_a_revoked_clients_token_is_refused(app: FastAPI, client: TestClient,
                                            make_client: Callable[..., tuple[str, str]]) -> None:
    from store.api_clients import revoke_client
    from store.db import session_scope

    client_id, _ = make_client("events:read")
    token = forge_token(sub=client_id, scope="events:read")
    assert client.get("/v1/events", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    with session_scope(app.state.ctx.engine) as session:
        revoke_client(session, client_id)
    app.state.ctx.clients.forget(client_id)  # what the cache's ttl does within seconds
    response = client.get("/v1/events", headers={"Authorization": f"Bearer {token}"})
    assert (response.status_code, response.json()["error"]["code"]) == (401, "client_revoked")


def test_admin_scope_opens_every_group(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    headers = auth("admin")
    for path in ("/v1/customers", "/v1/service-orders", "/v1/invoices", "/v1/dead-letters", "/v1/backups"):
        assert client.get(path, headers=headers).status_code == 200, path


def test_a_token_signed_with_an_older_key_still_verifies_after_rotation(
        settings: Settings, db_engine, make_client: Callable[..., tuple[str, str]]) -> None:
    from api.app import create_app

    client_id, _ = make_client("events:read")
    old = forge_token(sub=client_id, scope="events:read", kid="t1")
    rotated = ApiSettings(jwt_keys=f"t2:{'n' * 40},t1:{JWT_KEY}", rate_limit_storage="memory://")
    with TestClient(create_app(settings, api=rotated, engine=db_engine)) as client:
        response = client.get("/v1/events", headers={"Authorization": f"Bearer {old}"})
        assert response.status_code == 200
        new = client.app.state.ctx.tokens.issue(client_id, frozenset({"events:read"}))
        assert jwt.get_unverified_header(new)["kid"] == "t2"


def test_a_remembered_token_is_still_refused_once_it_expires(
        client: TestClient, make_client: Callable[..., tuple[str, str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    client_id, _ = make_client("events:read")
    token = forge_token(sub=client_id, scope="events:read", exp=int(time.time()) + 60)
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/v1/events", headers=headers).status_code == 200
    assert client.get("/v1/events", headers=headers).status_code == 200  # from the verified tokens
    later = time.time() + 120
    monkeypatch.setattr("api.tokens.time.time", lambda: later)
    monkeypatch.setattr("jwt.api_jwt.datetime", _Clock(later))
    response = client.get("/v1/events", headers=headers)
    assert response.status_code == 401 and response.json()["error"]["code"] == "token_expired"


class _Clock:
    """``datetime`` as PyJWT reads it, ``seconds`` after the epoch."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def now(self, tz: object = None) -> object:
        from datetime import UTC, datetime
        return datetime.fromtimestamp(self.seconds, UTC)
