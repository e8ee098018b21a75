"""``/v1/customers/{id}/consent``: decisions recorded with their proof, read back, and the read audited;
on the demo company's own customers."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import select

from store import consent
from store.db import session_scope
from store.models import Customer
from store.privacy.access import access_log
from store.seed import seed_demo

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def demo_customer(db_engine: sa.Engine) -> str:
    """The id of the demo seed's first customer (E.164 phone, CPF or CNPJ, as the seed makes them)."""
    with session_scope(db_engine) as session:
        seed_demo(session, at=AT, customers=20, technicians=4, orders=40)
    with session_scope(db_engine) as session:
        first = session.exec(select(Customer).order_by(Customer.id)).first()
        assert first is not None
        return first.id


def test_a_grant_with_its_proof_is_in_force_and_in_the_history(
        client: TestClient, auth: Callable[..., dict[str, str]], demo_customer: str) -> None:
    write = auth("consent:write")
    granted = client.post(f"/v1/customers/{demo_customer}/consent", headers=write, json={
        "channel": "whatsapp", "decision": "granted", "source": "service_order:OS-1234",
        "wording_version": "2026-11"})
    assert granted.status_code == 201
    assert granted.json()["decision"] == "granted" and granted.json()["actor"].startswith("api_client:")
    read = client.get(f"/v1/customers/{demo_customer}/consent", headers=auth("consent:read"))
    assert read.status_code == 200
    body = read.json()
    states = {s["channel"]: s for s in body["current"]}
    assert states["whatsapp"]["granted"] and states["whatsapp"]["source"] == "service_order:OS-1234"
    assert states["whatsapp"]["wording_version"] == "2026-11"
    assert not states["sms"]["granted"] and states["sms"]["since"] is None
    assert [(h["channel"], h["decision"]) for h in body["history"]] == [("whatsapp", "granted")]


def test_a_withdrawal_is_a_new_row_and_the_engine_sees_it(
        client: TestClient, auth: Callable[..., dict[str, str]], demo_customer: str,
        db_engine: sa.Engine) -> None:
    write = auth("consent:write")
    for decision, source in (("granted", "website_form"), ("withdrawn", "phone_call")):
        response = client.post(f"/v1/customers/{demo_customer}/consent", headers=write,
                               json={"channel": "email", "decision": decision, "source": source})
        assert response.status_code == 201
    body = client.get(f"/v1/customers/{demo_customer}/consent", headers=auth("consent:read")).json()
    assert [(h["decision"], h["source"]) for h in body["history"]] == [("granted", "website_form"),
                                                                       ("withdrawn", "phone_call")]
    assert not {s["channel"]: s for s in body["current"]}["email"]["granted"]
    with db_engine.connect() as conn:
        assert not consent.has_consent(conn, demo_customer, "email")  # what the connectors check


def test_reading_consent_is_in_the_customers_access_log(
        client: TestClient, auth: Callable[..., dict[str, str]], demo_customer: str,
        db_engine: sa.Engine) -> None:
    response = client.get(f"/v1/customers/{demo_customer}/consent",
                          headers={**auth("consent:read"), "X-Access-Reason": "cliente ligou"})
    assert response.status_code == 200
    with session_scope(db_engine) as session:
        (entry,) = access_log(session, demo_customer)
        assert entry.details == {"what": "GET /v1/customers/{id}/consent", "reason": "cliente ligou"}


def test_unknown_customer_is_404_and_bad_fields_are_422_naming_them(
        client: TestClient, auth: Callable[..., dict[str, str]], demo_customer: str) -> None:
    headers = auth("consent:read", "consent:write")
    unknown_read = client.get("/v1/customers/no-such-customer/consent", headers=headers)
    unknown_write = client.post("/v1/customers/no-such-customer/consent", headers=headers,
                                json={"channel": "sms", "decision": "granted", "source": "x"})
    bad_channel = client.post(f"/v1/customers/{demo_customer}/consent", headers=headers,
                              json={"channel": "pigeon", "decision": "granted", "source": "x"})
    no_source = client.post(f"/v1/customers/{demo_customer}/consent", headers=headers,
                            json={"channel": "sms", "decision": "granted"})
    assert unknown_read.status_code == 404 and unknown_read.json()["error"]["code"] == "not_found"
    assert unknown_write.status_code == 404
    assert bad_channel.status_code == 422
    assert "channel" in str(bad_channel.json()["error"]["details"])
    assert no_source.status_code == 422 and "source" in str(no_source.json()["error"]["details"])


def test_consent_needs_its_own_scopes(client: TestClient, auth: Callable[..., dict[str, str]],
                                      demo_customer: str) -> None:
    read_only = auth("consent:read")
    customers = auth("customers:read")
    assert client.get(f"/v1/customers/{demo_customer}/consent", headers=customers).status_code == 403
    assert client.post(f"/v1/customers/{demo_customer}/consent", headers=read_only,
                       json={"channel": "sms", "decision": "granted", "source": "x"}).status_code == 403
