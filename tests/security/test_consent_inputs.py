"""Attacks on the consent proof and the incident register, replayed: refused, naming the field.

The proof (source, wording version) is shown to the data-protection officer and, one day, to the
ANPD: it is bounded and one printable line on every face, so nobody can forge a second history
line (a newline), hide text (bidi, zero-width) or fill the table with megabytes. The store refuses
it too, so the CLI and the engine's own paths (opt-in keywords) cannot skip the check.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from store import consent
from store.db import session_scope
from store.errors import ValidationFailed
from tests.support.privacy import build_world

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
HOSTILE = [("source", "x" * 201), ("source", "whatsapp_optin:SM1\n2026-12-01 granted by dpo"),
           ("source", "form\u202egnitekram"), ("source", "form\u200b"), ("wording_version", "v" * 51),
           ("wording_version", "v1\x1b[2J")]


@pytest.mark.parametrize(("field", "value"), HOSTILE)
def test_a_hostile_proof_is_refused_by_the_api_and_nothing_is_recorded(
        client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine, field: str,
        value: str) -> None:
    world = build_world(db_engine, AT)
    body = {"channel": "sms", "decision": "granted", "source": "website_form", field: value}
    response = client.post(f"/v1/customers/{world.customer_id}/consent", headers=auth("consent:write"),
                           json=body)
    assert response.status_code == 422
    assert response.json()["error"]["details"][0]["loc"] == ["body", field]
    with session_scope(db_engine) as session:
        assert consent.history(session, world.customer_id) == []


@pytest.mark.parametrize(("field", "value"), HOSTILE)
def test_the_store_refuses_a_hostile_proof_whatever_face_sent_it(db_engine: sa.Engine, field: str,
                                                                 value: str) -> None:
    world = build_world(db_engine, AT)
    proof = {"source": "website_form", field: value}
    with session_scope(db_engine) as session, pytest.raises(ValidationFailed) as refused:
        consent.record(session, world.customer_id, "sms", granted=True, **proof)
    assert refused.value.field == f"consent.{field}"


def test_unknown_fields_and_channels_are_refused(client: TestClient, auth: Callable[..., dict[str, str]],
                                                 db_engine: sa.Engine) -> None:
    world = build_world(db_engine, AT)
    url = f"/v1/customers/{world.customer_id}/consent"
    headers = auth("consent:write")
    forged_actor = client.post(url, headers=headers, json={"channel": "sms", "decision": "granted",
                                                           "source": "x", "actor": "user:dpo"})
    all_channels = client.post(url, headers=headers, json={"channel": "all", "decision": "granted",
                                                           "source": "x"})
    other_purpose = client.post(url, headers=headers, json={"channel": "sms", "decision": "granted",
                                                            "source": "x", "purpose": "profiling"})
    assert forged_actor.status_code == 422  # who recorded it is the token's client, never the body
    assert all_channels.status_code == 422 and other_purpose.status_code == 422


@pytest.mark.parametrize("body", [{"summary": "x" * 2001}, {"summary": "x", "data_categories": ["c"] * 31},
                                  {"summary": "x", "data_categories": ["y" * 101]},
                                  {"summary": "x", "subjects_affected": -1},
                                  {"summary": "x", "recorded_by": "user:someone-else"}])
def test_an_incident_out_of_bounds_is_refused(client: TestClient, auth: Callable[..., dict[str, str]],
                                              body: dict[str, object]) -> None:
    response = client.post("/v1/privacy/incidents", headers=auth("privacy:admin"), json=body)
    assert response.status_code == 422
    assert client.get("/v1/privacy/incidents", headers=auth("privacy:admin")).json()["incidents"] == []


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/v1/privacy/incidents"), ("POST", "/v1/privacy/incidents"), ("GET", "/v1/privacy/incidents/x"),
    ("PATCH", "/v1/privacy/incidents/x")])
def test_incident_routes_need_the_privacy_scope(client: TestClient, auth: Callable[..., dict[str, str]],
                                                method: str, path: str) -> None:
    nobody = client.request(method, path, json={"summary": "x"})
    reader = client.request(method, path, json={"summary": "x"},
                            headers=auth("customers:read", "consent:read", "consent:write"))
    assert nobody.status_code == 401
    assert reader.status_code == 403 and "privacy:admin" in reader.json()["error"]["message"]
