"""Marketing without consent, and messages to suppressed addresses, replayed end to end.

A demo-seed customer, the engine driven by hand, the SMS connector through the
real ``twilio`` client to the fake Twilio: a marketing SMS to a customer who never
consented is refused before Twilio (no request, no retry, no dead letter: the
step ends skipped with the reason); with a consent record it goes out; once the
number is on the suppression list, even a transactional SMS is refused.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from store import consent, suppressions
from store.models import Customer, RuleStep
from store.seed import DemoCompany
from tests.fakes.twilio import FakeTwilio
from tests.security.messaging import Project, make_project, twilio_peer, twilio_settings

RULES = """
rules:
  - id: offer
    on: campaign.offer
    do:
      - sms.send:
          to: "{{ data.customer.phone }}"
          body: "Revisão do ar-condicionado com 20% de desconto."
          purpose: marketing
  - id: visit
    on: visit.confirmed
    do:
      - sms.send:
          to: "{{ data.customer.phone }}"
          body: "Sua visita foi confirmada."
"""


@pytest.fixture
def fake() -> Iterator[FakeTwilio]:
    with twilio_peer() as peer:
        yield peer


def demo_customer(project: Project) -> Customer:
    """The demo seed's first customer (its real shape: E.164 phone, CPF or CNPJ), stored."""
    customer = DemoCompany(random.Random(42), datetime(2026, 12, 1, tzinfo=UTC)).make_customers()[0]
    with Session(project.driver.core.db) as session:
        session.add(customer)
        session.commit()
        session.refresh(customer)
        session.expunge(customer)
    return customer


def steps(project: Project) -> list[RuleStep]:
    with Session(project.driver.core.db) as session:
        return list(session.exec(select(RuleStep).order_by(RuleStep.created_at)))


def test_marketing_without_consent_is_refused_before_twilio_and_the_step_is_skipped(
        tmp_path: Path, fake: FakeTwilio) -> None:
    project = make_project(tmp_path / "p", RULES, {"sms": twilio_settings(fake)})
    customer = demo_customer(project)
    project.emit("campaign.offer", "e1", customer={"phone": customer.phone})
    assert fake.requests == []
    (step,) = steps(project)
    assert step.status == "skipped" and step.attempts == 1
    assert "no_consent" in (step.hold_reason or "") and "legal basis: consent" in (step.hold_reason or "")
    assert customer.phone[3:] not in (step.hold_reason or "")  # the trace shows the number masked
    assert project.dead_letters() == []


def test_marketing_with_current_consent_is_sent_and_a_withdrawal_stops_it(
        tmp_path: Path, fake: FakeTwilio) -> None:
    project = make_project(tmp_path / "p", RULES, {"sms": twilio_settings(fake)})
    customer = demo_customer(project)
    with Session(project.driver.core.db) as session:
        consent.record(session, customer.id, "sms", granted=True, source="service_order:OS-123",
                       wording_version="v1", actor="api:crm")
        session.commit()
    project.emit("campaign.offer", "e1", customer={"phone": customer.phone})
    assert [form["To"] for form in fake.sent] == [customer.phone]
    with Session(project.driver.core.db) as session:
        consent.record(session, customer.id, "sms", granted=False, source="api:crm")
        session.commit()
    project.emit("campaign.offer", "e2", customer={"phone": customer.phone})
    assert len(fake.sent) == 1
    assert [s.status for s in steps(project)] == ["succeeded", "skipped"]


def test_a_suppressed_number_gets_not_even_a_transactional_message(tmp_path: Path, fake: FakeTwilio) -> None:
    project = make_project(tmp_path / "p", RULES, {"sms": twilio_settings(fake)})
    customer = demo_customer(project)
    with Session(project.driver.core.db) as session:
        suppressions.suppress(session, customer.phone, "all", reason="keyword SAIR", source="sms_optout:SM1")
        session.commit()
    project.emit("visit.confirmed", "e1", customer={"phone": customer.phone})
    assert fake.requests == []
    letter = project.dead_letter()
    assert letter.error_code == "suppressed" and customer.phone not in letter.error
