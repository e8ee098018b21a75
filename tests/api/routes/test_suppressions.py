"""/v1/suppressions: scoped, audited, addresses normalised on the way in and masked on the way out."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from store.models import AuditLogEntry, Suppression


def test_an_address_is_suppressed_listed_masked_and_lifted_with_an_audit_trail(
        client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    headers = auth("suppressions:read", "suppressions:write")
    made = client.post("/v1/suppressions", json={"address": "(11) 98765-4321", "channel": "sms",
                                                 "reason": "pediu por telefone"}, headers=headers)
    assert made.status_code == 201, made.text
    assert made.json()["address"] == "+55 11 9****-4321"
    listed = client.get("/v1/suppressions", params={"address": "+55 11 98765-4321"}, headers=headers)
    assert [row["channel"] for row in listed.json()] == ["sms"]
    with Session(db_engine) as session:
        assert session.exec(select(Suppression)).one().address == "+5511987654321"
    gone = client.delete("/v1/suppressions", params={"address": "+5511987654321", "channel": "sms"},
                         headers=headers)
    assert gone.status_code == 204
    again = client.delete("/v1/suppressions", params={"address": "+5511987654321", "channel": "sms"},
                          headers=headers)
    assert again.status_code == 404 and "98765" not in again.text
    with Session(db_engine) as session:
        actions = [e.action for e in session.exec(select(AuditLogEntry)) if e.action.startswith("suppr")]
    assert actions == ["suppressions.add", "suppressions.remove"]


def test_the_list_needs_its_scope_and_a_bad_address_is_a_422_naming_it(
        client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    assert client.get("/v1/suppressions", headers=auth("runs:read")).status_code == 403
    bad = client.post("/v1/suppressions", json={"address": "not a phone"}, headers=auth("suppressions:write"))
    assert bad.status_code == 422 and "address" in bad.text
