"""The shared sender-verification hook: a verifier's refusal is a 403, logged with its reason."""

from __future__ import annotations

import logging
from typing import Annotated

import pytest
import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from fastapi.testclient import TestClient

import api.webhooks as webhooks
from api.app import create_app
from api.settings import ApiSettings
from api.webhooks.verify import SenderRejected, verified_sender
from engine.settings import Settings
from tests.api.conftest import JWT_KEY

seen_urls: list[str] = []


async def dummy_verifier(request: Request, url: str) -> None:
    seen_urls.append(url)
    if request.headers.get("X-Dummy-Signature") != "good":
        raise SenderRejected("signature mismatch")


router = APIRouter(prefix="/dummy")


@router.post("/inbound")
async def inbound(verified: Annotated[None, Depends(verified_sender(dummy_verifier))]) -> dict[str, str]:
    return {"status": "received"}


@pytest.fixture
def webhook_client(settings: Settings, db_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> TestClient:
    monkeypatch.setattr(webhooks, "WEBHOOK_ROUTERS", [router])
    api = ApiSettings(jwt_keys=f"t1:{JWT_KEY}", rate_limit_storage="memory://",
                      public_url="https://despacho.example.com")
    return TestClient(create_app(settings, api=api, engine=db_engine))


def test_a_verified_sender_reaches_the_webhook_without_a_token(webhook_client: TestClient) -> None:
    seen_urls.clear()
    response = webhook_client.post("/webhooks/dummy/inbound?x=1", headers={"X-Dummy-Signature": "good"})
    assert response.status_code == 200
    # the verifier sees the public URL, which is what the sender signed
    assert seen_urls == ["https://despacho.example.com/webhooks/dummy/inbound?x=1"]


def test_an_unverified_sender_gets_403_and_the_reason_is_logged(webhook_client: TestClient,
                                                               caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="despacho.api.webhooks"):
        response = webhook_client.post("/webhooks/dummy/inbound", headers={"X-Dummy-Signature": "bad"})
    assert response.status_code == 403
    assert response.json()["error"] == {"code": "sender_not_verified",
                                        "message": "the sender could not be verified", "details": None}
    assert "signature mismatch" in caplog.text
