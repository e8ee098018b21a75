"""POST /v1/token: the OAuth2 client-credentials exchange."""

from __future__ import annotations

import base64
from collections.abc import Callable

import jwt
from fastapi.testclient import TestClient


def test_client_credentials_give_a_short_lived_bearer_token_that_works(
        client: TestClient, make_client: Callable[..., tuple[str, str]]) -> None:
    client_id, secret = make_client("events:write", "events:read")
    response = client.post("/v1/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                              "client_secret": secret})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 900
    assert body["scope"] == "events:read events:write"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert {"iss", "aud", "exp", "iat", "jti", "sub"} <= set(claims)
    assert claims["sub"] == client_id
    assert jwt.get_unverified_header(body["access_token"])["kid"] == "t1"
    listed = client.get("/v1/events", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert listed.status_code == 200


def test_http_basic_credentials_are_accepted(client: TestClient,
                                             make_client: Callable[..., tuple[str, str]]) -> None:
    client_id, secret = make_client("events:read")
    basic = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    response = client.post("/v1/token", data={"grant_type": "client_credentials"},
                           headers={"Authorization": f"Basic {basic}"})
    assert response.status_code == 200


def test_a_wrong_secret_is_401_invalid_client(client: TestClient,
                                              make_client: Callable[..., tuple[str, str]]) -> None:
    client_id, _ = make_client("events:read")
    for cid, secret in ((client_id, "wrong"), ("dc_unknown", "wrong")):
        response = client.post("/v1/token", data={"grant_type": "client_credentials", "client_id": cid,
                                                  "client_secret": secret})
        assert response.status_code == 401
        assert response.json()["error"]["code"] == "invalid_client"


def test_only_the_client_credentials_grant_is_supported(
        client: TestClient, make_client: Callable[..., tuple[str, str]]) -> None:
    client_id, secret = make_client("events:read")
    response = client.post("/v1/token", data={"grant_type": "password", "client_id": client_id,
                                              "client_secret": secret})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "unsupported_grant_type"


def test_a_token_can_be_narrowed_but_not_widened(client: TestClient,
                                                 make_client: Callable[..., tuple[str, str]]) -> None:
    client_id, secret = make_client("events:write", "events:read")
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    narrowed = client.post("/v1/token", data={**form, "scope": "events:read"})
    assert narrowed.json()["scope"] == "events:read"
    widened = client.post("/v1/token", data={**form, "scope": "events:read admin"})
    assert widened.status_code == 400
    assert widened.json()["error"]["code"] == "invalid_scope"


def test_a_revoked_client_gets_no_token(client: TestClient, app,
                                        make_client: Callable[..., tuple[str, str]]) -> None:
    from store.api_clients import revoke_client
    from store.db import session_scope

    client_id, secret = make_client("events:read")
    with session_scope(app.state.ctx.engine) as session:
        revoke_client(session, client_id)
    response = client.post("/v1/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                              "client_secret": secret})
    assert response.status_code == 401
