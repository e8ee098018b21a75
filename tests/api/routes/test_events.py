"""POST /v1/events: one or a batch, idempotent by id, validated, size-limited."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from fastapi.testclient import TestClient

from store.models import Event


def stored_events(engine: sa.Engine) -> dict[str, Event]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(Event.__table__)).mappings().all()
    return {row["id"]: row for row in rows}


def test_one_event_is_stored_and_answered_with_202_and_its_id(
        client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    response = client.post("/v1/events", headers=auth("events:write"),
                           json={"type": "service_order.assigned", "id": "evt-1",
                                 "data": {"order": {"id": "o1"}}})
    assert response.status_code == 202
    assert response.json() == {"accepted": [{"id": "evt-1", "stored": True}]}
    row = stored_events(db_engine)["evt-1"]
    assert row["type"] == "service_order.assigned"
    assert row["source"] == "api"
    assert row["dispatched_at"] is None


def test_a_batch_is_stored_in_one_request(client: TestClient, auth: Callable[..., dict[str, str]],
                                          db_engine: sa.Engine) -> None:
    batch = [{"type": "invoice.paid", "id": f"b{i}", "source": "erp"} for i in range(5)]
    response = client.post("/v1/events", headers=auth("events:write"), json=batch)
    assert response.status_code == 202
    assert [a["id"] for a in response.json()["accepted"]] == [f"b{i}" for i in range(5)]
    assert {row["source"] for row in stored_events(db_engine).values()} == {"erp"}


def test_a_redelivered_event_id_is_accepted_but_not_stored_again(
        client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    headers = auth("events:write")
    event = {"type": "invoice.paid", "id": "same", "data": {"n": 1}}
    client.post("/v1/events", headers=headers, json=event)
    again = client.post("/v1/events", headers=headers, json={**event, "data": {"n": 2}})
    assert again.status_code == 202
    assert again.json() == {"accepted": [{"id": "same", "stored": False}]}
    assert stored_events(db_engine)["same"]["payload"] == {"n": 1}


def test_an_invalid_event_is_422_with_the_error_body_and_nothing_is_stored(
        client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    response = client.post("/v1/events", headers=auth("events:write"),
                           json=[{"type": "ok.event", "id": "a"}, {"type": "Not A Type", "id": "b"}])
    assert response.status_code == 422
    body = response.json()["error"]
    assert body["code"] == "invalid_request"
    assert any("type" in d["loc"] for d in body["details"])
    assert stored_events(db_engine) == {}


def test_a_batch_over_the_limit_is_refused(client: TestClient, auth: Callable[..., dict[str, str]],
                                           app) -> None:
    app.state.ctx.api = app.state.ctx.api.model_copy(update={"max_batch": 3})
    response = client.post("/v1/events", headers=auth("events:write"),
                           json=[{"type": "a.b", "id": str(i)} for i in range(4)])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "batch_too_large"


def test_an_empty_batch_is_refused(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    response = client.post("/v1/events", headers=auth("events:write"), json=[])
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "empty_batch"


def test_a_body_larger_than_the_limit_is_413_before_parsing(
        client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    big = {"type": "a.b", "data": {"blob": "x" * 1_100_000}}
    response = client.post("/v1/events", headers=auth("events:write"), json=big)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


def test_stored_events_can_be_read_back(client: TestClient, auth: Callable[..., dict[str, str]]) -> None:
    client.post("/v1/events", headers=auth("events:write"), json={"type": "a.b", "id": "r1"})
    response = client.get("/v1/events/r1", headers=auth("events:read"))
    assert response.status_code == 200
    assert response.json()["type"] == "a.b"
