"""Every request leaves an audit row (who, route, status, latency, request id) and never a body."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlmodel import Session

import api.audit
from api.audit import RequestAudit
from api.metrics import Metrics
from store.audit import REQUEST_ACTION, entry_values, query_entries
from store.db import session_scope


def test_requests_are_audited_with_client_route_status_latency_and_request_id(
        app: FastAPI, client: TestClient, make_client: Callable[..., tuple[str, str]]) -> None:
    client_id, secret = make_client("events:write")
    token = client.post("/v1/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                           "client_secret": secret}).json()["access_token"]
    response = client.post("/v1/events", json={"type": "a.b", "id": "e1"},
                           headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-123"})
    assert response.headers["X-Request-ID"] == "req-123"
    app.state.ctx.audit.flush()
    with session_scope(app.state.ctx.engine) as session:
        entries = query_entries(session, action=REQUEST_ACTION)
        rows = [(e.actor, e.entity_id, e.details) for e in entries]
    by_route = {entity: (actor, details) for actor, entity, details in rows}
    actor, details = by_route["POST /v1/events"]
    assert actor == f"api_client:{client_id}"
    assert details["status"] == 202 and details["request_id"] == "req-123"
    assert details["latency_ms"] >= 0
    token_actor, _ = by_route["POST /v1/token"]
    assert token_actor.startswith("ip:")
    assert secret not in str(rows) and token not in str(rows)


def test_a_refused_token_request_names_the_client_id_tried_and_never_the_secret(
        app: FastAPI, client: TestClient, make_client: Callable[..., tuple[str, str]]) -> None:
    client_id, _ = make_client("events:write")
    response = client.post("/v1/token", data={"grant_type": "client_credentials", "client_id": client_id,
                                               "client_secret": "guessed-secret"})
    assert response.status_code == 401
    app.state.ctx.audit.flush()
    with session_scope(app.state.ctx.engine) as session:
        (entry,) = query_entries(session, action=REQUEST_ACTION, entity_id="POST /v1/token")
        actor, details = entry.actor, entry.details
    assert actor.startswith("ip:")  # not authenticated: the actor is still the address
    assert details["client_id_tried"] == client_id and details["status"] == 401
    assert "guessed-secret" not in str(details)


def test_a_client_id_in_basic_credentials_is_named_too(app: FastAPI, client: TestClient) -> None:
    client.post("/v1/token", data={"grant_type": "client_credentials"}, auth=("dc_basic", "nope"))
    app.state.ctx.audit.flush()
    with session_scope(app.state.ctx.engine) as session:
        (entry,) = query_entries(session, action=REQUEST_ACTION, entity_id="POST /v1/token")
        assert entry.details["client_id_tried"] == "dc_basic"


def test_an_unsafe_request_id_is_replaced(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "bad id\n with spaces"})
    assert response.headers["X-Request-ID"] != "bad id\n with spaces"
    assert len(response.headers["X-Request-ID"]) == 32


def test_retrying_a_dead_letter_is_a_critical_action_in_the_audit_log(
        app: FastAPI, client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    response = client.post("/v1/dead-letters/retry", json={"ids": ["missing"]},
                           headers=auth("deadletters:write"))
    assert response.status_code == 404
    with session_scope(app.state.ctx.engine) as session:
        # the retry failed, so its transaction (and the audit row in it) rolled back
        assert query_entries(session, action="dead_letters.retry") == []


def test_a_flush_returns_only_once_the_rows_another_flush_took_are_written(
        db_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    audit = RequestAudit(db_engine, Metrics(db_engine))
    entered, gate = threading.Event(), threading.Event()
    real_insert = api.audit.insert_entries

    def slow_insert(session: Session, rows: Sequence[dict[str, Any]]) -> int:
        entered.set()
        gate.wait(10)
        return real_insert(session, rows)

    monkeypatch.setattr(api.audit, "insert_entries", slow_insert)
    audit.add(entry_values("ip:127.0.0.1", REQUEST_ACTION))
    first = threading.Thread(target=audit.flush)  # the audit's timer, say
    first.start()
    assert entered.wait(10)
    second_done = threading.Event()
    second = threading.Thread(target=lambda: (audit.flush(), second_done.set()))
    second.start()
    assert not second_done.wait(0.3)  # the row is the first flush's, not yet written: wait for it
    gate.set()
    first.join(10)
    second.join(10)
    assert second_done.is_set()
    with session_scope(db_engine) as session:
        assert len(query_entries(session, action=REQUEST_ACTION)) == 1


def test_a_row_the_database_refuses_is_dropped_and_counted_and_the_others_are_written(
        db_engine: sa.Engine, caplog: pytest.LogCaptureFixture) -> None:
    # kept for retry, it would be refused again at every flush and hold back every row behind it
    audit = RequestAudit(db_engine, Metrics(db_engine))
    audit.add(entry_values("ip:127.0.0.1", REQUEST_ACTION, entity_id="GET /a"))
    audit.add({**entry_values("ip:127.0.0.1", REQUEST_ACTION, entity_id="GET /b"), "action": None})
    audit.add(entry_values("ip:127.0.0.1", REQUEST_ACTION, entity_id="GET /c"))
    assert audit.flush() == 2
    assert audit.flush() == 0
    with session_scope(db_engine) as session:
        assert sorted(e.entity_id or "" for e in query_entries(session, action=REQUEST_ACTION)) == [
            "GET /a", "GET /c"]
    assert audit.metrics.registry.get_sample_value("despacho_audit_rows_dropped_total") == 1
    assert "refused by the database and dropped (ip:127.0.0.1 GET /b)" in caplog.text


def test_rows_are_kept_for_the_next_flush_when_the_database_cannot_be_written(
        db_engine: sa.Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    audit = RequestAudit(db_engine, Metrics(db_engine))
    audit.add(entry_values("ip:127.0.0.1", REQUEST_ACTION))

    def locked(session: Session, rows: Sequence[dict[str, Any]]) -> int:
        raise sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(api.audit, "insert_entries", locked)
    assert audit.flush() == 0
    monkeypatch.undo()
    assert audit.flush() == 1
    assert audit.metrics.registry.get_sample_value("despacho_audit_rows_dropped_total") == 0


def test_the_timer_leaves_the_rows_to_the_event_commits_while_they_are_riding(db_engine: sa.Engine) -> None:
    audit = RequestAudit(db_engine, Metrics(db_engine))
    with audit.ride():  # an event commit took the pending rows (none) just now
        pass
    audit.add(entry_values("ip:127.0.0.1", REQUEST_ACTION))
    assert audit.flush_unless_riding(60) == 0  # the next event commit takes it
    assert audit.flush_unless_riding(0) == 1  # no event commit for that long: the timer writes it
