"""A signed Twilio webhook with a malformed field, replayed: a 400 that says which field, never a 500.

``NumMedia=abc`` in a correctly signed inbound WhatsApp request once made
the route crash with a 500 (and Twilio retries 5xx answers). The signature
is still checked first: unsigned, the same request is a 403.
"""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from store.models import Event, WhatsAppMessage
from tests.api.webhooks.test_twilio import app, client, inbound, post_signed  # noqa: F401  (fixtures)


def test_a_signed_inbound_message_with_num_media_abc_is_a_400_and_stores_nothing(
        client: TestClient, db_engine: sa.Engine) -> None:  # noqa: F811
    answer = post_signed(client, "/webhooks/twilio/whatsapp", inbound(NumMedia="abc"))
    assert answer.status_code == 400
    assert answer.json()["error"]["message"].startswith("NumMedia must be a whole number")
    with Session(db_engine) as session:
        assert session.exec(select(WhatsAppMessage)).all() == []
        assert session.exec(select(Event)).all() == []


def test_the_same_request_unsigned_is_refused_by_the_signature_check_first(client: TestClient) -> None:  # noqa: F811
    assert client.post("/webhooks/twilio/whatsapp", data=inbound(NumMedia="abc")).status_code == 403
