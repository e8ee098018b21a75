"""WhatsApp through the real twilio client: whatsapp: addresses, the 24 h window, templates."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from connectors.base import Runtime
from connectors.messaging.twilio import TwilioSettings
from connectors.whatsapp import SendWhatsAppParams, WhatsAppConnector
from errors import PermanentError
from store.db import session_scope
from store.models import Customer, Notification, WhatsAppConversation, WhatsAppMessage
from store.types import utcnow
from store.whatsapp_window import record_inbound
from tests.connectors.conftest import call
from tests.connectors.twilio_support import settings_for
from tests.fakes.twilio import FakeTwilio, twilio_server

PHONE = "+5511987654321"


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with twilio_server() as running:
        yield running


@pytest.fixture
def customer_wrote(engine: sa.Engine) -> Callable[..., None]:
    """The customer sent us a message ``ago`` before now (opens the window)."""
    def wrote(ago: timedelta = timedelta(hours=1), phone: str = PHONE) -> None:
        with session_scope(engine) as session:
            record_inbound(session, phone, "Oi", f"SM{utcnow().timestamp()}", at=utcnow() - ago)
    return wrote


def connector(fake: FakeTwilio, runtime: Runtime, **overrides: Any) -> WhatsAppConnector:
    return WhatsAppConnector(settings_for(fake, **{"from": "whatsapp:+14155238886", **overrides}), runtime)


def text(body: str = "Seu técnico chega às 9h", to: str = "(11) 98765-4321") -> SendWhatsAppParams:
    return SendWhatsAppParams(to=to, body=body)


def approved(to: str = "(11) 98765-4321") -> SendWhatsAppParams:
    return SendWhatsAppParams(to=to, content_sid="HX" + "b2" * 16, variables={"1": "Maria", "2": "9h"})


def test_free_text_inside_the_window_is_sent_to_a_whatsapp_address(
        fake: FakeTwilio, runtime: Runtime, customer_wrote: Callable[..., None]) -> None:
    customer_wrote(timedelta(hours=23))
    outputs = connector(fake, runtime).execute(call("send", text()))
    [form] = fake.sent
    assert (form["To"], form["From"], form["Body"]) == (
        "whatsapp:+5511987654321", "whatsapp:+14155238886", "Seu técnico chega às 9h")
    assert outputs["message_sid"] == outputs["message_sid"] and outputs["status"] == "queued"


def test_from_without_prefix_is_sent_as_a_whatsapp_address(
        fake: FakeTwilio, runtime: Runtime, customer_wrote: Callable[..., None]) -> None:
    customer_wrote()
    connector(fake, runtime, **{"from": "+14155238886"}).execute(call("send", text()))
    assert fake.sent[0]["From"] == "whatsapp:+14155238886"


def test_free_text_outside_the_window_is_refused_before_sending(
        fake: FakeTwilio, runtime: Runtime, engine: sa.Engine, customer_wrote: Callable[..., None]) -> None:
    customer_wrote(timedelta(hours=25))
    with pytest.raises(PermanentError, match="outside the WhatsApp 24 h window") as raised:
        connector(fake, runtime).execute(call("send", text()))
    assert raised.value.code == "63016"
    assert fake.requests == []
    with Session(engine) as session:
        row = session.exec(select(Notification)).one()
    assert (row.status, row.error_code) == ("failed", "63016")


def test_free_text_to_someone_who_never_wrote_is_refused(fake: FakeTwilio, runtime: Runtime) -> None:
    with pytest.raises(PermanentError, match="no message from the customer") as raised:
        connector(fake, runtime).execute(call("send", text()))
    assert raised.value.code == "63016"


def test_approved_template_is_sent_outside_the_window_with_its_variables(
        fake: FakeTwilio, runtime: Runtime) -> None:
    connector(fake, runtime).execute(call("send", approved()))
    [form] = fake.sent
    assert form["ContentSid"] == "HX" + "b2" * 16
    assert form["ContentVariables"] == '{"1": "Maria", "2": "9h"}'
    assert "Body" not in form


def test_send_is_recorded_in_the_conversation_and_the_notifications(
        fake: FakeTwilio, runtime: Runtime, engine: sa.Engine, customer_wrote: Callable[..., None],
        make_customer: Callable[..., Customer]) -> None:
    customer = make_customer()
    customer_wrote()
    outputs = connector(fake, runtime).execute(call("send", text()))
    with Session(engine) as session:
        row = session.exec(select(Notification)).one()
        thread = session.exec(select(WhatsAppConversation)).one()
        outbound = session.exec(select(WhatsAppMessage).where(WhatsAppMessage.direction == "outbound")).one()
    assert (row.channel, row.recipient, row.provider_id, row.customer_id) == (
        "whatsapp", PHONE, outputs["message_sid"], customer.id)
    assert thread.last_outbound_at is not None
    assert (outbound.provider_id, outbound.notification_id) == (outputs["message_sid"], row.id)


def test_twilio_63016_is_permanent(fake: FakeTwilio, bare_runtime: Runtime) -> None:
    fake.refuse("whatsapp:+5511987654321", 400, 63016, "Failed to send freeform message outside the window")
    with pytest.raises(PermanentError) as raised:
        connector(fake, bare_runtime).execute(call("send", text()))
    assert raised.value.code == "63016"


def test_twilio_21610_marks_customer_and_conversation_opted_out(
        fake: FakeTwilio, runtime: Runtime, engine: sa.Engine, customer_wrote: Callable[..., None],
        make_customer: Callable[..., Customer]) -> None:
    customer = make_customer()
    customer_wrote()
    fake.refuse("whatsapp:+5511987654321", 400, 21610, "Attempt to send to unsubscribed recipient")
    with pytest.raises(PermanentError):
        connector(fake, runtime).execute(call("send", text()))
    with Session(engine) as session:
        assert session.get(Customer, customer.id).opt_outs == ["whatsapp"]
        assert session.exec(select(WhatsAppConversation)).one().opted_out_at is not None
    with pytest.raises(PermanentError, match="opted out") as again:
        connector(fake, runtime).execute(call("send", approved(), key="another-step"))
    assert again.value.code == "opted_out"
    assert len(fake.requests) == 1


def test_opted_out_customer_is_not_sent_even_a_template(fake: FakeTwilio, runtime: Runtime,
                                                        make_customer: Callable[..., Customer]) -> None:
    make_customer(opt_outs=["whatsapp"])
    with pytest.raises(PermanentError, match="opted out of whatsapp"):
        connector(fake, runtime).execute(call("send", approved()))
    assert fake.requests == []


def test_body_over_1600_characters_is_refused_before_sending(
        fake: FakeTwilio, runtime: Runtime, customer_wrote: Callable[..., None]) -> None:
    customer_wrote()
    with pytest.raises(PermanentError, match="1601 characters") as raised:
        connector(fake, runtime).execute(call("send", text(body="a" * 1601)))
    assert raised.value.code == "too_long"
    assert fake.requests == []


def test_invalid_number_is_refused_before_sending(fake: FakeTwilio, bare_runtime: Runtime) -> None:
    with pytest.raises(PermanentError, match=r"^\*\*99 is not a valid phone number"):
        connector(fake, bare_runtime).execute(call("send", approved(to="9999")))
    assert fake.requests == []


def test_step_run_twice_sends_once(fake: FakeTwilio, runtime: Runtime, make_step: Callable[..., Any]) -> None:
    step = make_step("whatsapp.send", "rule:event:wa")
    first = connector(fake, runtime).execute(call("send", approved(), key=step.idempotency_key))
    again = connector(fake, runtime).execute(call("send", approved(), key=step.idempotency_key))
    assert len(fake.sent) == 1 and again["message_sid"] == first["message_sid"]


def test_without_a_database_free_text_is_left_to_twilio(fake: FakeTwilio, bare_runtime: Runtime) -> None:
    # no conversation rows to judge the window by: Twilio's own 63016 callback decides
    connector(fake, bare_runtime).execute(call("send", text()))
    assert len(fake.sent) == 1


def test_file_transport_also_respects_the_window(tmp_path: Path, runtime: Runtime) -> None:
    settings = TwilioSettings(**{"from": "whatsapp:+14155238886"})
    with pytest.raises(PermanentError):
        WhatsAppConnector(settings, runtime).execute(call("send", text()))
    WhatsAppConnector(settings, runtime).execute(call("send", approved()))
    assert len(list((runtime.outbox / "whatsapp").glob("*.json"))) == 1
