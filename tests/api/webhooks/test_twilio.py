"""Twilio webhooks: signatures checked with Twilio's RequestValidator, status callbacks, inbound WhatsApp."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session, select
from twilio.request_validator import RequestValidator

from api.app import create_app
from api.settings import ApiSettings
from connectors.messaging.twilio import TwilioSettings
from engine.settings import ConnectorsSettings, DatabaseSettings, PathsSettings, Settings
from store.db import session_scope
from store.models import Customer, Event, Notification, WhatsAppConversation, WhatsAppMessage
from store.whatsapp_window import window_open

AUTH_TOKEN = "twilio-auth-token"
WEBHOOK_KEY = "shared-webhook-key"
PUBLIC = "https://despacho.example.com"
JWT_KEY = "test-key-" + "x" * 40


@pytest.fixture
def app(db_url: str, db_engine: sa.Engine, tmp_path: Path) -> FastAPI:
    twilio = TwilioSettings.model_validate({"transport": "twilio", "account_sid": "AC" + "1" * 32,
                                            "auth_token": AUTH_TOKEN, "webhook_key": WEBHOOK_KEY})
    (tmp_path / "rules").mkdir(exist_ok=True)
    settings = Settings(database=DatabaseSettings(url=db_url), rules=PathsSettings(path=tmp_path / "rules"),
                        connectors=ConnectorsSettings(sms=twilio, whatsapp=twilio))
    api = ApiSettings(public_url=PUBLIC, jwt_keys=f"t1:{JWT_KEY}", rate_limit_storage="memory://",
                      ip_rate_limit="10000/minute")
    return create_app(settings, api=api, engine=db_engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


def post_signed(client: TestClient, path: str, form: dict[str, str], *, token: str = AUTH_TOKEN,
                tamper: dict[str, str] | None = None, headers: dict[str, str] | None = None,
                algorithm: str | None = None) -> Any:
    signature = RequestValidator(token).compute_signature(PUBLIC + path, form, algorithm)
    sent = {**form, **(tamper or {})}
    return client.post(path, data=sent, headers={"X-Twilio-Signature": signature, **(headers or {})})


def inbound(sid: str = "SM" + "c" * 32, body: str = "SIM", **extra: str) -> dict[str, str]:
    return {"MessageSid": sid, "AccountSid": "AC" + "1" * 32, "From": "whatsapp:+5511987654321",
            "To": "whatsapp:+14155238886", "Body": body, "NumMedia": "0", "ProfileName": "Maria", **extra}


def test_inbound_whatsapp_is_stored_opens_the_window_and_emits_an_event(
        client: TestClient, db_engine: sa.Engine) -> None:
    with session_scope(db_engine) as s:
        s.add(Customer(name="Maria Souza", phone="+5511987654321"))
    answer = post_signed(client, "/webhooks/twilio/whatsapp", inbound())

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/xml")
    with Session(db_engine) as session:
        thread = session.exec(select(WhatsAppConversation)).one()
        message = session.exec(select(WhatsAppMessage)).one()
        event = session.exec(select(Event)).one()
    assert thread.phone == "+5511987654321" and window_open(thread)
    assert (message.direction, message.body, message.provider_id) == ("inbound", "SIM", "SM" + "c" * 32)
    assert (event.id, event.type, event.source) == ("SM" + "c" * 32, "whatsapp.message_received", "twilio")
    assert event.payload["from"] == "+5511987654321" and event.payload["text"] == "SIM"
    assert event.payload["customer"]["name"] == "Maria Souza"


def test_unknown_extra_fields_are_accepted(client: TestClient) -> None:
    form = inbound(ChannelMetadata='{"type":"whatsapp"}', SomethingTwilioAddedLater="x")
    assert post_signed(client, "/webhooks/twilio/whatsapp", form).status_code == 200


def test_redelivered_inbound_message_is_stored_once(client: TestClient, db_engine: sa.Engine) -> None:
    post_signed(client, "/webhooks/twilio/whatsapp", inbound())
    post_signed(client, "/webhooks/twilio/whatsapp", inbound())
    with Session(db_engine) as session:
        assert len(session.exec(select(WhatsAppMessage)).all()) == 1
        assert len(session.exec(select(Event)).all()) == 1


@pytest.mark.parametrize("num_media", ["abc", "-1", "1e3", "99999"])
def test_a_signed_inbound_message_whose_num_media_is_not_a_count_is_a_400_and_stores_nothing(
        num_media: str, client: TestClient, db_engine: sa.Engine) -> None:
    answer = post_signed(client, "/webhooks/twilio/whatsapp", inbound(NumMedia=num_media))
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "invalid_form"
    assert "NumMedia must be a whole number" in answer.json()["error"]["message"]
    with Session(db_engine) as session:
        assert session.exec(select(WhatsAppMessage)).all() == []


def test_an_unsigned_message_with_a_bad_num_media_is_refused_by_the_signature_check_first(
        client: TestClient) -> None:
    assert client.post("/webhooks/twilio/whatsapp", data=inbound(NumMedia="abc")).status_code == 403


def test_unsigned_request_is_refused_and_logged(client: TestClient, db_engine: sa.Engine,
                                                caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="despacho.api.webhooks"):
        answer = client.post("/webhooks/twilio/whatsapp", data=inbound())
    assert answer.status_code == 403
    assert "no X-Twilio-Signature" in caplog.text
    with Session(db_engine) as session:
        assert session.exec(select(WhatsAppMessage)).all() == []


def test_request_with_one_changed_field_is_refused(client: TestClient, db_engine: sa.Engine,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="despacho.api.webhooks"):
        answer = post_signed(client, "/webhooks/twilio/whatsapp", inbound(), tamper={"Body": "NAO"})
    assert answer.status_code == 403
    assert "does not match" in caplog.text
    with Session(db_engine) as session:
        assert session.exec(select(Event)).all() == []


def test_signature_with_another_token_is_refused(client: TestClient) -> None:
    answer = post_signed(client, "/webhooks/twilio/whatsapp", inbound(), token="someone-elses-token")
    assert answer.status_code == 403


def test_hmac_sha256_signature_with_the_webhook_key_is_accepted(client: TestClient) -> None:
    settings_header = {"X-Twilio-Webhooks-Signature-Settings":
                       "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"}
    answer = post_signed(client, "/webhooks/twilio/whatsapp", inbound(), token=WEBHOOK_KEY,
                         headers=settings_header, algorithm="HMAC_SHA256")
    assert answer.status_code == 200
    refused = post_signed(client, "/webhooks/twilio/whatsapp", inbound(sid="SM" + "d" * 32),
                          headers=settings_header, algorithm="HMAC_SHA256")  # signed with the auth token
    assert refused.status_code == 403


# --- status callbacks -------------------------------------------------------------------------------

def sent_notification(engine: sa.Engine, sid: str = "SM" + "e" * 32, **fields: Any) -> str:
    with session_scope(engine) as session:
        row = Notification(channel="sms", recipient="+5511987654321", body="Oi", provider="twilio",
                           provider_id=sid, status="sent", **fields)
        session.add(row)
    return row.id


def status(sid: str, value: str, **extra: str) -> dict[str, str]:
    return {"MessageSid": sid, "MessageStatus": value, "AccountSid": "AC" + "1" * 32,
            "To": "+5511987654321", "From": "+15005550006", "ApiVersion": "2010-04-01", **extra}


def test_status_callbacks_move_the_notification_forward_only(client: TestClient,
                                                            db_engine: sa.Engine) -> None:
    row_id = sent_notification(db_engine)
    for value in ("sent", "delivered", "sent"):  # a late "sent" arrives after "delivered"
        answer = post_signed(client, "/webhooks/twilio/status", status("SM" + "e" * 32, value))
        assert answer.status_code == 204
    with Session(db_engine) as session:
        row = session.get(Notification, row_id)
    assert row.status == "delivered" and row.delivered_at is not None
    assert [e["status"] for e in row.status_history] == ["sent", "delivered", "sent"]


def test_undelivered_status_without_the_engine_core_is_recorded_and_logged(
        client: TestClient, db_engine: sa.Engine, caplog: pytest.LogCaptureFixture) -> None:
    from store.models import RuleRun, RuleStep

    with session_scope(db_engine) as session:
        run = RuleRun(rule_id="r")
        session.add(run)
        session.flush()
        step = RuleStep(run_id=run.id, action="sms.send", idempotency_key="r:e:0", status="succeeded")
        session.add(step)
    row_id = sent_notification(db_engine, step_id=step.id)
    form = status("SM" + "e" * 32, "undelivered", ErrorCode="30003", ErrorMessage="Unreachable handset")
    with caplog.at_level(logging.WARNING):
        assert post_signed(client, "/webhooks/twilio/status", form).status_code == 204
    with Session(db_engine) as session:
        row = session.get(Notification, row_id)
    assert (row.status, row.error_code) == ("undelivered", "30003")
    assert "without the engine's core" in caplog.text


def test_status_21610_marks_the_customer_opted_out(client: TestClient, db_engine: sa.Engine) -> None:
    with session_scope(db_engine) as session:
        customer = Customer(name="Maria", phone="+5511987654321")
        session.add(customer)
    sent_notification(db_engine, customer_id=customer.id)
    post_signed(client, "/webhooks/twilio/status", status("SM" + "e" * 32, "failed", ErrorCode="21610"))
    with Session(db_engine) as session:
        assert session.get(Customer, customer.id).opt_outs == ["sms"]


def test_status_for_an_unknown_message_is_acknowledged(client: TestClient) -> None:
    answer = post_signed(client, "/webhooks/twilio/status", status("SM" + "f" * 32, "delivered"))
    assert answer.status_code == 204
