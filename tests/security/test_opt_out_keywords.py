"""Opt-out keyword spoofing: only a message that *is* the keyword suppresses its sender.

A customer (or someone quoting one) writing "stop" inside a sentence must not be
suppressed from every channel; nor may the webhook be reached without Twilio's signature.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from connectors.messaging.keywords import opt_out_keyword
from store.db import session_scope
from store.models import Customer, Suppression
from tests.api.webhooks import test_twilio as twilio_webhooks
from tests.api.webhooks.test_twilio import inbound, post_signed

# the Twilio webhook tests' app (signed with their auth token), under the names the tests ask for
app = twilio_webhooks.app
client = twilio_webhooks.client


@pytest.mark.parametrize("body", ["Sair.", "parar!", "  STOP  ", "Cancelar", "descadastrar", "PÁRAR",
                                  "sair\n"])
def test_the_whole_message_as_a_keyword_opts_out(body: str) -> None:
    assert opt_out_keyword(body) is not None


@pytest.mark.parametrize("body", ["please don't stop the visits", "não vou parar de usar", "stop it",
                                  "SAIR SAIR", "sairei amanhã", "STOP" + " " * 60 + "x", "", "S A I R"])
def test_a_keyword_inside_a_sentence_does_not_opt_out(body: str) -> None:
    assert opt_out_keyword(body) is None


def test_stop_inside_a_whatsapp_sentence_suppresses_no_one(client: TestClient, db_engine: sa.Engine) -> None:
    answer = post_signed(client, "/webhooks/twilio/whatsapp", inbound(body="Não pare, stop só amanhã"))
    assert answer.status_code == 200
    with Session(db_engine) as session:
        assert session.exec(select(Suppression)).all() == []


def test_an_unsigned_sms_opt_out_is_refused_and_suppresses_no_one(client: TestClient,
                                                                  db_engine: sa.Engine) -> None:
    answer = client.post("/webhooks/twilio/sms", data={"MessageSid": "SM1", "From": "+5511987654321",
                                                       "Body": "SAIR"})
    assert answer.status_code == 403
    with Session(db_engine) as session:
        assert session.exec(select(Suppression)).all() == []


@pytest.mark.parametrize(("path", "sender"), [("/webhooks/twilio/sms", "+5511987654321"),
                                              ("/webhooks/twilio/whatsapp", "whatsapp:+5511987654321")])
def test_a_signed_keyword_suppresses_the_sender_everywhere_and_marks_the_customer(
        path: str, sender: str, client: TestClient, db_engine: sa.Engine) -> None:
    with session_scope(db_engine) as s:
        s.add(Customer(name="Maria Souza", phone="+5511987654321"))
    for sid in ("SM" + "a" * 32, "SM" + "b" * 32):  # a second SAIR keeps the first row (the proof)
        answer = post_signed(client, path, inbound(sid=sid, body="Sair.", From=sender))
        assert answer.status_code == 200
    channel = path.rsplit("/", 1)[1]
    with Session(db_engine) as session:
        (row,) = session.exec(select(Suppression)).all()
        customer = session.exec(select(Customer)).one()
    assert (row.address, row.channel, row.reason) == ("+5511987654321", "all", "keyword SAIR")
    assert row.source == f"{channel}_optout:SM" + "a" * 32
    assert channel in customer.opt_outs
