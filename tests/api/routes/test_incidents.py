"""``/v1/privacy/incidents``: the incident register through the API, as ``despacho privacy incident``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import select

from store.db import session_scope
from store.models import AuditLogEntry


def test_create_list_show_and_update_an_incident(client: TestClient, auth: Callable[..., dict[str, str]],
                                                 db_engine: sa.Engine) -> None:
    headers = auth("privacy:admin")
    # Friday 4 December 2026, 14:00 in São Paulo: three business days later is Wednesday the 9th
    created = client.post("/v1/privacy/incidents", headers=headers, json={
        "summary": "Notebook do técnico furtado com planilha de clientes",
        "detected_at": "2026-12-04T14:00:00-03:00", "data_categories": ["name", "phone"],
        "subjects_affected": 40, "risk": "high"})
    assert created.status_code == 201
    incident = created.json()
    assert incident["deadline"] == "2026-12-09" and incident["status"] == "open"
    assert incident["recorded_by"].startswith("api_client:")
    listed = client.get("/v1/privacy/incidents", headers=headers).json()["incidents"]
    assert [i["id"] for i in listed] == [incident["id"]]
    updated = client.patch(f"/v1/privacy/incidents/{incident['id']}", headers=headers, json={
        "anpd_notified_at": "2026-12-07T10:00:00-03:00", "measures": "senhas trocadas", "status": "closed"})
    assert updated.status_code == 200
    shown = client.get(f"/v1/privacy/incidents/{incident['id']}", headers=headers).json()
    assert shown["status"] == "closed" and shown["measures"] == "senhas trocadas"
    assert shown["anpd_notified_at"] == datetime(2026, 12, 7, 13, 0, tzinfo=UTC).isoformat()
    assert not shown["overdue"]
    with session_scope(db_engine) as session:
        updates = select(AuditLogEntry).where(AuditLogEntry.action == "privacy.incident.update")
        (audit,) = session.exec(updates).all()
        assert audit.details == {"fields": ["anpd_notified_at", "measures", "status"]}


def test_incident_errors_are_clear(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    headers = auth("privacy:admin")
    naive = client.post("/v1/privacy/incidents", headers=headers,
                        json={"summary": "x", "detected_at": "2026-12-04T14:00:00"})
    bad_risk = client.post("/v1/privacy/incidents", headers=headers, json={"summary": "x", "risk": "severe"})
    missing = client.get("/v1/privacy/incidents/nope", headers=headers)
    created = client.post("/v1/privacy/incidents", headers=headers, json={"summary": "x"}).json()
    empty = client.patch(f"/v1/privacy/incidents/{created['id']}", headers=headers, json={})
    null_risk = client.patch(f"/v1/privacy/incidents/{created['id']}", headers=headers, json={"risk": None})
    assert naive.status_code == 422 and bad_risk.status_code == 422
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert empty.status_code == 422 and empty.json()["error"]["details"] == {"field": "body"}
    assert null_risk.status_code == 422  # an incident always has a risk
    assert null_risk.json()["error"]["details"][0]["loc"] == ["body", "risk"]


def test_incidents_need_the_privacy_admin_scope(client: TestClient,
                                                auth: Callable[..., dict[str, str]]) -> None:
    assert client.get("/v1/privacy/incidents", headers=auth("customers:read")).status_code == 403
