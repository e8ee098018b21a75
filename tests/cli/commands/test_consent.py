"""``despacho privacy consent``: decisions recorded with their proof and shown back, on the demo
company's customers (found by phone, as the person at the counter gives it)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select
from typer.testing import CliRunner

from cli import app
from store.db import make_engine, session_scope
from store.models import Customer
from store.privacy.access import access_log
from store.seed import seed_demo
from tests.conftest import write

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
runner = CliRunner()


@pytest.fixture
def demo_customer(project: Path, db_url: str) -> Customer:
    """The demo seed's first customer with a phone, detached (its id and E.164 phone)."""
    write(project / "config.yaml", f"database: {{url: '{db_url}'}}\n")
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            seed_demo(session, at=AT, customers=20, technicians=4, orders=40)
        with session_scope(engine) as session:
            customer = session.exec(select(Customer).where(Customer.phone.is_not(None))
                                    .order_by(Customer.id)).first()
            assert customer is not None
            session.expunge(customer)
            return customer
    finally:
        engine.dispose()


def test_grant_then_withdraw_shows_the_state_and_the_whole_history(demo_customer: Customer) -> None:
    phone = demo_customer.phone
    assert phone is not None
    granted = runner.invoke(app, ["privacy", "consent", "grant", phone, "--channel", "whatsapp",
                                  "--source", "whatsapp_optin:SM0001", "--wording-version", "2026-11",
                                  "--actor", "atendente"])
    withdrawn = runner.invoke(app, ["privacy", "consent", "withdraw", demo_customer.id, "--channel", "sms",
                                    "--source", "phone_call", "--format", "json"])
    assert granted.exit_code == 0, granted.output
    assert f"customer {demo_customer.id}: whatsapp consent granted (source whatsapp_optin:SM0001, " \
           "wording 2026-11;" in granted.output
    assert json.loads(withdrawn.output)["decision"] == "withdrawn"
    shown = runner.invoke(app, ["privacy", "consent", "show", phone, "--format", "json"])
    body = json.loads(shown.output)
    states = {s["channel"]: s for s in body["current"]}
    assert states["whatsapp"]["granted"] and states["whatsapp"]["wording_version"] == "2026-11"
    assert not states["sms"]["granted"] and states["sms"]["source"] == "phone_call"
    assert states["email"]["since"] is None
    assert [(h["channel"], h["decision"], h["actor"]) for h in body["history"]] == [
        ("whatsapp", "granted", "user:atendente"), ("sms", "withdrawn", body["history"][1]["actor"])]
    text = runner.invoke(app, ["privacy", "consent", "show", demo_customer.id])
    assert "email     never asked" in text.output and "history (2):" in text.output
    assert "whatsapp  granted   since" in text.output


def test_show_is_recorded_in_the_access_log(demo_customer: Customer, db_url: str) -> None:
    shown = runner.invoke(app, ["privacy", "consent", "show", demo_customer.id, "--reason", "cliente ligou",
                                "--actor", "dpo"])
    assert shown.exit_code == 0, shown.output
    engine = make_engine(db_url)
    try:
        with session_scope(engine) as session:
            (entry,) = access_log(session, demo_customer.id)
            assert entry.actor == "user:dpo"
            assert entry.details == {"what": "privacy consent show", "reason": "cliente ligou"}
    finally:
        engine.dispose()


def test_bad_channel_long_source_and_unknown_person_are_refused(demo_customer: Customer) -> None:
    bad_channel = runner.invoke(app, ["privacy", "consent", "grant", demo_customer.id, "--channel", "fax",
                                      "--source", "form"])
    long_source = runner.invoke(app, ["privacy", "consent", "grant", demo_customer.id, "--channel", "sms",
                                      "--source", "x" * 201])
    unknown = runner.invoke(app, ["privacy", "consent", "show", "+55 11 91234-0000"])
    assert bad_channel.exit_code == 2 and "consent.channel: 'fax' is not one of" in bad_channel.output
    assert long_source.exit_code == 2 and "consent.source: is longer than 200" in long_source.output
    assert unknown.exit_code == 1
