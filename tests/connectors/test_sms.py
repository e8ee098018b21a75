"""SMS through the real twilio client against a local server speaking Twilio's Messages API."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from connectors.base import Runtime
from connectors.messaging.twilio import TwilioSettings
from connectors.sms import SendSmsParams, SmsConnector
from errors import PermanentError, TransientError
from store.models import Customer, Notification
from tests.connectors.conftest import call
from tests.connectors.twilio_support import settings_for
from tests.fakes.twilio import FakeTwilio, twilio_server


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with twilio_server() as running:
        yield running


def sms(to: str = "(11) 98765-4321", body: str = "Visita amanha as 9h", **fields: Any) -> SendSmsParams:
    return SendSmsParams(to=to, body=body, **fields)


def test_national_number_is_sent_as_e164_form_encoded_with_basic_auth(fake: FakeTwilio,
                                                                      bare_runtime: Runtime) -> None:
    outputs = SmsConnector(settings_for(fake), bare_runtime).execute(call("send", sms()))

    [form] = fake.sent
    assert form["To"] == "+5511987654321"
    assert form["From"] == "+15005550006"
    assert form["Body"] == "Visita amanha as 9h"
    assert outputs["message_sid"].startswith("SM")
    assert (outputs["status"], outputs["segments"], outputs["encoding"]) == ("queued", 1, "GSM-7")


def test_status_callback_points_at_the_public_url(fake: FakeTwilio, bare_runtime: Runtime) -> None:
    settings = settings_for(fake, public_url="https://despacho.example.com/")
    SmsConnector(settings, bare_runtime).execute(call("send", sms()))
    assert fake.sent[0]["StatusCallback"] == "https://despacho.example.com/webhooks/twilio/status"


def test_invalid_number_is_permanent_naming_it_before_any_request(fake: FakeTwilio,
                                                                  bare_runtime: Runtime) -> None:
    with pytest.raises(PermanentError, match=r"^\*\*\*45 is not a valid phone number") as raised:
        SmsConnector(settings_for(fake), bare_runtime).execute(call("send", sms(to="12345")))
    assert raised.value.code == "invalid_number"
    assert fake.requests == []


def test_accents_are_counted_as_ucs2_and_refused_over_max_segments(fake: FakeTwilio,
                                                                   bare_runtime: Runtime) -> None:
    text = "Olá! Sua visita técnica está confirmada para amanhã às 9h. Responda SIM para confirmar."
    with pytest.raises(PermanentError, match="2 segments \\(UCS-2") as raised:
        SmsConnector(settings_for(fake), bare_runtime).execute(call("send", sms(body=text)))
    assert raised.value.code == "too_many_segments"
    assert fake.requests == []


def test_transliteration_keeps_an_accented_message_in_one_gsm7_segment(fake: FakeTwilio,
                                                                        bare_runtime: Runtime) -> None:
    text = "Olá! Sua visita técnica está confirmada para amanhã às 9h. Responda SIM para confirmar."
    outputs = SmsConnector(settings_for(fake), bare_runtime).execute(
        call("send", sms(body=text, transliterate=True)))
    assert fake.sent[0]["Body"].startswith("Ola! Sua visita técnica esta confirmada para amanha às 9h")
    assert (outputs["encoding"], outputs["segments"]) == ("GSM-7", 1)


def test_rendered_template_text_is_what_is_sent(fake: FakeTwilio, bare_runtime: Runtime) -> None:
    params = SendSmsParams(to="+5511987654321", template="lembrete")
    SmsConnector(settings_for(fake), bare_runtime).execute(
        call("send", params, message={"text": "Ola Maria, visita amanha."}))
    assert fake.sent[0]["Body"] == "Ola Maria, visita amanha."


def test_429_is_transient_and_honours_retry_after(fake: FakeTwilio, bare_runtime: Runtime) -> None:
    fake.fail_next(429, 20429, "Too Many Requests", retry_after=7)
    with pytest.raises(TransientError, match="20429") as raised:
        SmsConnector(settings_for(fake), bare_runtime).execute(call("send", sms()))
    assert raised.value.retry_after == 7


def test_server_error_is_transient(fake: FakeTwilio, bare_runtime: Runtime) -> None:
    fake.fail_next(503, 20500, "Service unavailable")
    with pytest.raises(TransientError) as raised:
        SmsConnector(settings_for(fake), bare_runtime).execute(call("send", sms()))
    assert raised.value.retry_after == 30


def test_twilio_21211_is_permanent(fake: FakeTwilio, bare_runtime: Runtime) -> None:
    fake.refuse("+5511987654321", 400, 21211, "Invalid 'To' Phone Number: +5511987654321")
    with pytest.raises(PermanentError, match=r"\+55 11 9\*{4}-4321 is not a valid phone number") as raised:
        SmsConnector(settings_for(fake), bare_runtime).execute(call("send", sms()))
    assert raised.value.code == "21211"


def test_wrong_credentials_are_permanent(fake: FakeTwilio, bare_runtime: Runtime) -> None:
    with pytest.raises(PermanentError, match="20003") as raised:
        SmsConnector(settings_for(fake, auth_token="wrong"), bare_runtime).execute(call("send", sms()))
    assert raised.value.code == "20003"


def test_unreachable_twilio_is_transient(bare_runtime: Runtime) -> None:
    from tests.fakes.ports import free_port

    with twilio_server() as fake:
        settings = settings_for(fake, api_base_url=f"http://127.0.0.1:{free_port()}")
    with pytest.raises(TransientError, match="cannot reach Twilio"):
        SmsConnector(settings, bare_runtime).execute(call("send", sms()))


def test_missing_credentials_are_permanent(bare_runtime: Runtime) -> None:
    settings = TwilioSettings(transport="twilio")
    with pytest.raises(PermanentError, match="account_sid and auth_token") as raised:
        SmsConnector(settings, bare_runtime).execute(call("send", sms()))
    assert raised.value.code == "not_configured"


def test_missing_credentials_are_recorded_as_failed(runtime: Runtime, engine: sa.Engine) -> None:
    with pytest.raises(PermanentError):
        SmsConnector(TwilioSettings(transport="twilio"), runtime).execute(call("send", sms()))
    with Session(engine) as session:
        row = session.exec(select(Notification)).one()
    assert (row.recipient, row.status, row.error_code) == ("+5511987654321", "failed", "not_configured")


def test_check_fetches_the_account_without_sending(fake: FakeTwilio, bare_runtime: Runtime) -> None:
    result = SmsConnector(settings_for(fake), bare_runtime).check()
    assert fake.account_sid in result["target"] and "active" in result["detail"]
    assert fake.requests == []


def test_check_refuses_a_suspended_account(fake: FakeTwilio, bare_runtime: Runtime) -> None:
    fake.account_status = "suspended"
    with pytest.raises(PermanentError, match="suspended"):
        SmsConnector(settings_for(fake), bare_runtime).check()


# --- records, opt-outs, idempotency --------------------------------------------------------------

def test_send_records_text_encoding_segments_and_sid(fake: FakeTwilio, runtime: Runtime, engine: sa.Engine,
                                                     make_customer: Callable[..., Customer]) -> None:
    customer = make_customer()
    outputs = SmsConnector(settings_for(fake), runtime).execute(call("send", sms()))

    with Session(engine) as session:
        row = session.exec(select(Notification)).one()
    assert (row.channel, row.recipient, row.body) == ("sms", "+5511987654321", "Visita amanha as 9h")
    assert (row.encoding, row.segments) == ("GSM-7", 1)
    assert (row.provider, row.provider_id, row.status) == ("twilio", outputs["message_sid"], "sent")
    assert row.customer_id == customer.id
    assert row.status_history[-1]["status"] == "queued"


def test_opted_out_customer_is_not_messaged(fake: FakeTwilio, runtime: Runtime, engine: sa.Engine,
                                            make_customer: Callable[..., Customer]) -> None:
    make_customer(opt_outs=["sms"])
    with pytest.raises(PermanentError, match="opted out of sms") as raised:
        SmsConnector(settings_for(fake), runtime).execute(call("send", sms()))
    assert raised.value.code == "opted_out"
    assert fake.requests == []
    with Session(engine) as session:
        row = session.exec(select(Notification)).one()
    assert (row.status, row.error_code) == ("failed", "opted_out")


def test_twilio_21610_marks_the_customer_opted_out_of_sms(fake: FakeTwilio, runtime: Runtime,
                                                          engine: sa.Engine,
                                                          make_customer: Callable[..., Customer]) -> None:
    customer = make_customer(opt_outs=["email"])
    fake.refuse("+5511987654321", 400, 21610, "Attempt to send to unsubscribed recipient")
    with pytest.raises(PermanentError) as raised:
        SmsConnector(settings_for(fake), runtime).execute(call("send", sms()))
    assert raised.value.code == "21610"
    with Session(engine) as session:
        assert session.get(Customer, customer.id).opt_outs == ["email", "sms"]
        row = session.exec(select(Notification)).one()
    assert (row.status, row.error_code) == ("failed", "21610")


def test_invalid_number_is_recorded_as_failed(fake: FakeTwilio, runtime: Runtime, engine: sa.Engine) -> None:
    with pytest.raises(PermanentError):
        SmsConnector(settings_for(fake), runtime).execute(call("send", sms(to="12345")))
    with Session(engine) as session:
        row = session.exec(select(Notification)).one()
    assert (row.recipient, row.status, row.error_code) == ("***45", "failed", "invalid_number")


def test_step_run_twice_sends_once(fake: FakeTwilio, runtime: Runtime,
                                   make_step: Callable[..., Any]) -> None:
    step = make_step("sms.send", "rule:event:sms")
    connector = SmsConnector(settings_for(fake), runtime)
    first = connector.execute(call("send", sms(), key=step.idempotency_key))
    again = connector.execute(call("send", sms(), key=step.idempotency_key, step_id=step.id))
    assert len(fake.sent) == 1
    assert again["message_sid"] == first["message_sid"] and again["duplicate"] is True


def test_retry_after_429_sends_once_more_and_keeps_one_row(fake: FakeTwilio, runtime: Runtime,
                                                           engine: sa.Engine,
                                                           make_step: Callable[..., Any]) -> None:
    step = make_step("sms.send", "rule:event:sms")
    connector = SmsConnector(settings_for(fake), runtime)
    fake.fail_next(429, 20429, "Too Many Requests", retry_after=1)
    with pytest.raises(TransientError):
        connector.execute(call("send", sms(), key=step.idempotency_key))
    connector.execute(call("send", sms(), key=step.idempotency_key))
    with Session(engine) as session:
        row = session.exec(select(Notification)).one()
    assert row.status == "sent" and len(fake.sent) == 1
    assert [e.get("error_code") for e in row.status_history] == ["transient", None]


# --- file transport ---------------------------------------------------------------------------------

def test_file_transport_writes_once_with_encoding_and_segments(tmp_path: Path) -> None:
    connector = SmsConnector(TwilioSettings(**{"from": "+15005550006"}), Runtime(outbox=tmp_path))
    connector.execute(call("send", sms()))
    connector.execute(call("send", sms()))
    [written] = list((tmp_path / "sms").glob("*.json"))
    body = json.loads(written.read_text(encoding="utf-8"))
    assert (body["to"], body["encoding"], body["segments"]) == ("+5511987654321", "GSM-7", 1)
