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
    assert row["source"] == "erp"  # the client's source (its name), set by the server
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


def test_nan_and_infinity_are_422_naming_the_field_and_nothing_is_stored(
        client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    headers = {**auth("events:write"), "Content-Type": "application/json"}
    for constant in ("NaN", "Infinity", "-Infinity"):  # raw bodies: a JSON client would not send them
        body = f'[{{"type": "a.b", "id": "ok"}}, {{"type": "a.b", "data": {{"amount": {constant}}}}}]'
        response = client.post("/v1/events", headers=headers, content=body)
        assert response.status_code == 422
        error = response.json()["error"]
        assert error["code"] == "invalid_request"
        assert error["message"].startswith(f"events[1].data.amount: {constant} is not a JSON number")
        assert error["details"][0]["loc"] == ["body", 1, "data", "amount"]
    assert stored_events(db_engine) == {}


def test_a_nul_character_in_a_key_or_a_value_is_422_naming_the_field(
        client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    headers = auth("events:write")
    value = client.post("/v1/events", headers=headers, json={"type": "a.b", "data": {"note": "a\x00b"}})
    key = client.post("/v1/events", headers=headers, json={"type": "a.b", "data": {"no\x00te": 1}})
    assert (value.status_code, key.status_code) == (422, 422)
    assert value.json()["error"]["message"] == \
        "event.data.note: text with a NUL character (\\u0000), which cannot be stored"
    assert key.json()["error"]["message"].startswith('event.data["no\\u0000te"]: key with a NUL character')
    assert stored_events(db_engine) == {}


def test_deep_nesting_is_422_not_a_server_error(client: TestClient,
                                                auth: Callable[..., dict[str, str]]) -> None:
    body = '{"type": "a.b", "data": ' + "[" * 50_000 + "]" * 50_000 + "}"
    response = client.post("/v1/events", headers=auth("events:write"), content=body)
    assert response.status_code == 422
    assert response.json()["error"]["message"] == "body: nested deeper than 64 levels"
