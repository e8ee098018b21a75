"""/v1/sync: records, one record's trail, retry and reconcile, under the billing scopes."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from fastapi.testclient import TestClient

from store.accounting_sync import AuditContext, add_audit, ensure_record, mark_failed
from store.db import session_scope


def failed_record(engine: sa.Engine) -> str:
    with session_scope(engine) as s:
        record = ensure_record(s, "omie", "invoice", "inv-1", "rule:event:0")
        mark_failed(s, record, "faultstring: SOAP-ENV:Client-103")
        add_audit(s, AuditContext("omie", "invoice", "inv-1", rule_id="r", step_id=None), record.id,
                  operation="push_invoice", request={"call": "UpsertContaReceber"}, status_code=500,
                  outcome="failed", error="Client-103")
        return record.id


def test_records_are_listed_and_shown_with_their_trail(client: TestClient, db_engine: sa.Engine,
                                                       auth: Callable[..., dict[str, str]]) -> None:
    record_id = failed_record(db_engine)
    body = client.get("/v1/sync/records?status=failed", headers=auth("billing:read")).json()
    assert [r["id"] for r in body["items"]] == [record_id]
    detail = client.get(f"/v1/sync/records/{record_id}", headers=auth("billing:read")).json()
    assert detail["record"]["last_error"] == "faultstring: SOAP-ENV:Client-103"
    assert [(a["operation"], a["status_code"]) for a in detail["audit"]] == [("push_invoice", 500)]


def test_reading_needs_the_billing_scope(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    assert client.get("/v1/sync/records", headers=auth("runs:read")).status_code == 403


def test_an_unknown_record_is_404(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    assert client.get("/v1/sync/records/nope", headers=auth("billing:read")).status_code == 404
    assert client.post("/v1/sync/records/nope/retry", headers=auth("billing:write")).status_code == 404


def test_a_record_no_rule_step_made_is_not_retried_and_says_why(
        client: TestClient, db_engine: sa.Engine, auth: Callable[..., dict[str, str]]) -> None:
    record_id = failed_record(db_engine)
    body = client.post(f"/v1/sync/records/{record_id}/retry", headers=auth("billing:write")).json()
    assert body["requeued"] == {}
    assert "no rule step" in body["skipped"][record_id]


def test_reconcile_on_the_file_transport_is_refused(client: TestClient,
                                                    auth: Callable[..., dict[str, str]]) -> None:
    response = client.post("/v1/sync/reconcile", json={"since": "2026-11-01"}, headers=auth("billing:write"))
    assert response.status_code == 404
    assert "transport" in response.json()["error"]["message"]
