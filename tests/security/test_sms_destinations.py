"""SMS and WhatsApp to numbers taken from event data, replayed: only allowed destinations are paid for.

Toll fraud pumps messages to premium-rate numbers, short codes and far-away
countries. Each attack sends an event whose phone is one of those through
the engine and the SMS/WhatsApp connectors, with the real ``twilio`` client
pointed at the fake Twilio: Twilio receives no request, the step is
dead-lettered at once with a clear code, and neither the dead letter nor
the notification row shows the number in full.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import Session, select

from store.models import Notification
from tests.fakes.twilio import FakeTwilio
from tests.security.messaging import Project, make_project, twilio_peer, twilio_settings

RULES = """
rules:
  - id: text-the-customer
    on: customer.text
    do:
      - sms.send:
          to: "{{ data.phone }}"
          body: "Sua visita foi confirmada."
  - id: whatsapp-the-customer
    on: customer.whatsapp
    do:
      - whatsapp.send:
          to: "{{ data.phone }}"
          content_sid: HX0123456789abcdef0123456789abcdef
          variables: {"1": "amanhã"}
"""

ATTACKS = {  # phone -> the code it is refused with
    "0900 123 4567": "premium_number",          # Brazilian premium rate
    "4003-1234": "premium_number",              # Brazilian shared cost
    "40404": "short_code",
    "+1 900 555 0123": "country_not_allowed",    # US premium rate, and the US is not allowed
    "+44 7911 123456": "country_not_allowed",    # a UK mobile
    "+882 1234 5678 90": "invalid_number",      # an international network: no country at all
    "11 98765-43210\r\nBody: x": "invalid_number",
}


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with twilio_peer() as running:
        yield running


def project(tmp_path: Path, fake: FakeTwilio, **overrides: Any) -> Project:
    settings = twilio_settings(fake, **overrides)
    return make_project(tmp_path / "project", RULES, {"sms": settings, "whatsapp": settings})


def digits(text: str) -> str:
    return "".join(char for char in text if char.isdigit())


@pytest.mark.parametrize("event_type", ["customer.text", "customer.whatsapp"])
@pytest.mark.parametrize("phone", sorted(ATTACKS))
def test_a_costly_or_foreign_destination_is_refused_before_twilio_and_masked(
        phone: str, event_type: str, tmp_path: Path, fake: FakeTwilio) -> None:
    found = project(tmp_path, fake)
    found.emit(event_type, phone=phone)
    assert fake.requests == []
    letter = found.dead_letter()
    assert (letter.error_code, letter.attempts) == (ATTACKS[phone], 1), letter.error
    assert digits(phone)[:-2] not in digits(letter.error)  # masked: the last two digits at most
    assert "\r" not in letter.error and "\n" not in letter.error
    with Session(found.driver.core.db) as session:
        row = session.exec(select(Notification)).one()
    assert (row.status, row.error_code) == ("failed", ATTACKS[phone])
    assert digits(phone)[:-2] not in digits(row.recipient)


def test_an_allowed_country_and_premium_numbers_can_be_configured(tmp_path: Path, fake: FakeTwilio) -> None:
    found = project(tmp_path, fake, allowed_countries=["BR", "US"], allow_premium_numbers=True)
    found.emit("customer.text", "e1", phone="+1 415 523 8886")
    found.emit("customer.text", "e2", phone="0900 123 4567")
    assert sorted(form["To"] for form in fake.sent) == ["+14155238886", "+559001234567"]
    assert found.dead_letters() == []


def test_a_brazilian_mobile_is_sent_by_default(tmp_path: Path, fake: FakeTwilio) -> None:
    found = project(tmp_path, fake)
    found.emit("customer.whatsapp", phone="(11) 98765-4321")
    assert [form["To"] for form in fake.sent] == ["whatsapp:+5511987654321"]
