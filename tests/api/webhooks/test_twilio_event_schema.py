"""The inbound WhatsApp event the webhook stores matches its schema in schemas/events/."""

from __future__ import annotations

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from store.db import session_scope
from store.models import Customer, Event
from tests.api.webhooks.test_twilio import app, client, inbound, post_signed
from tests.support.catalogue import payload_errors

__all__ = ["app", "client"]  # fixtures shared with test_twilio


def test_inbound_whatsapp_payload_matches_the_catalogue_with_and_without_a_customer(
        client: TestClient, db_engine: sa.Engine) -> None:
    with session_scope(db_engine) as s:
        s.add(Customer(name="Maria Souza", phone="+5511987654321", email="maria@example.com"))
    assert post_signed(client, "/webhooks/twilio/whatsapp", inbound()).status_code == 200
    stranger = inbound(sid="SM" + "d" * 32, body=" oi ", From="whatsapp:+5521999990000")
    stranger.pop("ProfileName")
    assert post_signed(client, "/webhooks/twilio/whatsapp", stranger).status_code == 200

    with Session(db_engine) as session:
        events = session.exec(select(Event).where(Event.type == "whatsapp.message_received")).all()
    assert len(events) == 2
    assert {e.payload["customer"] is None for e in events} == {True, False}
    assert [error for e in events for error in payload_errors(e.type, e.payload)] == []
