"""The unsubscribe link of a marketing email, end to end: SMTP out, one click back, nothing more sent.

A demo-seed customer who consented to marketing by email gets a campaign over
SMTP (aiosmtpd); the message carries RFC 8058's headers and a footer with the
link. Opening the link changes nothing (mail scanners open every link); the
one-click POST, as a mail client sends it, suppresses the address, withdraws
the customer's marketing consent on every channel, and the next email to them
is refused before SMTP.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.app import create_app
from store import consent
from store.models import Customer, Suppression
from store.seed import DemoCompany
from tests.fakes.smtp import SmtpServer
from tests.security.messaging import Project, email_settings, make_project, smtp_peer

RULES = """
rules:
  - id: offer
    on: campaign.offer
    do:
      - email.send:
          to: "{{ data.customer.email }}"
          subject: "Revisão do ar-condicionado com 20% de desconto"
          body: "Agende até sexta-feira."
          purpose: marketing
  - id: visit
    on: visit.confirmed
    do:
      - email.send:
          to: "{{ data.customer.email }}"
          subject: "Visita confirmada"
          body: "Sua visita foi confirmada."
"""
PUBLIC_URL = "https://despacho.refrigeracaopaulista.com.br"


@pytest.fixture
def smtp(tmp_path: Path) -> Iterator[SmtpServer]:
    with smtp_peer(tmp_path) as server:
        yield server


@pytest.fixture
def project(tmp_path: Path, smtp: SmtpServer) -> Project:
    root = tmp_path / "p"
    return make_project(root, RULES, {"email": email_settings(smtp, root)}, {"api": {
        "public_url": PUBLIC_URL, "jwt_keys_file": str(root / "var" / "api" / "jwt.keys")}})


def consenting_customer(project: Project) -> Customer:
    """The demo seed's first customer, who agreed to marketing by email and by SMS."""
    customer = DemoCompany(random.Random(42), datetime(2026, 12, 1, tzinfo=UTC)).make_customers()[0]
    with Session(project.driver.core.db) as session:
        session.add(customer)
        session.flush()
        for channel in ("email", "sms"):
            consent.record(session, customer.id, channel, granted=True, source="ordem de serviço assinada",
                           wording_version="2026-01")
        session.commit()
        session.refresh(customer)
        session.expunge(customer)
    return customer


def link_of(project: Project, smtp: SmtpServer) -> str:
    message = smtp.mailbox.received[-1].message
    header = str(message["List-Unsubscribe"])
    match = re.fullmatch(r"<(https://[^>]+)>", header)
    assert match is not None, header
    return match.group(1)


def client_for(project: Project) -> TestClient:
    core = project.driver.core
    return TestClient(create_app(core.settings, engine=core.db))


def test_a_marketing_email_carries_one_click_headers_and_a_footer_with_the_same_link(
        project: Project, smtp: SmtpServer) -> None:
    customer = consenting_customer(project)
    project.emit("campaign.offer", "e1", customer={"email": customer.email})
    (received,) = smtp.mailbox.received
    url = link_of(project, smtp)
    assert url.startswith(f"{PUBLIC_URL}/v1/unsubscribe?t=")
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    body = received.message.get_body(("plain",))
    assert body is not None and url in body.get_content()
    assert customer.email is not None and customer.email.split("@")[0] not in url  # the token is opaque


def test_a_transactional_email_has_no_unsubscribe_link(project: Project, smtp: SmtpServer) -> None:
    customer = consenting_customer(project)
    project.emit("visit.confirmed", "e1", customer={"email": customer.email})
    (received,) = smtp.mailbox.received
    assert received.message["List-Unsubscribe"] is None
    assert "/v1/unsubscribe" not in received.message.as_string()


def test_opening_the_link_shows_a_page_in_portuguese_and_unsubscribes_nobody(
        project: Project, smtp: SmtpServer) -> None:
    customer = consenting_customer(project)
    project.emit("campaign.offer", "e1", customer={"email": customer.email})
    page = client_for(project).get(link_of(project, smtp))
    assert page.status_code == 200
    assert "Cancelar inscrição" in page.text and customer.email in page.text
    assert 'name="List-Unsubscribe" value="One-Click"' in page.text
    with Session(project.driver.core.db) as session:
        assert session.exec(select(Suppression)).all() == []
        assert consent.has_consent(session.connection(), customer.id, "email")


def test_the_one_click_post_suppresses_the_address_withdraws_consent_and_stops_the_next_email(
        project: Project, smtp: SmtpServer) -> None:
    customer = consenting_customer(project)
    project.emit("campaign.offer", "e1", customer={"email": customer.email})
    client = client_for(project)
    url = link_of(project, smtp)
    done = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert done.status_code == 200 and "Pronto" in done.text
    with Session(project.driver.core.db) as session:
        (row,) = session.exec(select(Suppression)).all()
        assert (row.address, row.channel, row.source) == (customer.email, "email", "email_unsubscribe")
        states = {state.channel: state.granted for state in consent.current(session, customer.id)}
        assert states == {channel: False for channel in states}
        stored = session.get(Customer, customer.id)
        assert stored is not None and "email" in (stored.opt_outs or [])
    again = client.post(url, data={"List-Unsubscribe": "One-Click"})
    assert again.status_code == 200 and "já estava fora" in again.text
    project.emit("visit.confirmed", "e2", customer={"email": customer.email})
    assert len(smtp.mailbox.received) == 1  # the transactional email is refused too: the address left
    letter = project.dead_letter()
    assert letter.error_code == "suppressed" and customer.email not in (letter.error or "")


def test_a_post_without_the_one_click_body_changes_nothing(project: Project, smtp: SmtpServer) -> None:
    customer = consenting_customer(project)
    project.emit("campaign.offer", "e1", customer={"email": customer.email})
    answer = client_for(project).post(link_of(project, smtp), data={"List-Unsubscribe": "sim"})
    assert answer.status_code == 400 and "Pedido inválido" in answer.text
    with Session(project.driver.core.db) as session:
        assert session.exec(select(Suppression)).all() == []
