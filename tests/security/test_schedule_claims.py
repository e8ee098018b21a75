"""A client with events:write cancelling scheduled jobs, replayed: every part of the forgery is refused.

The attack stored ``daily-backup@<fire time>`` as a ``schedule`` event from
``scheduler``, dated far in the future, before the scheduler fired: the fire
found its claim taken and did nothing, and the future date stopped catch-up.
Claims now live in ``schedule_claims`` (``tests/engine/runtime/test_scheduler.py``
shows such an event no longer cancels anything); here the API refuses it.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from store.models import Event, ScheduleClaim

FIRE_ID = "daily-backup@2026-12-05T02:00:00-03:00"
THE_ATTACK = {"type": "schedule", "id": FIRE_ID, "source": "scheduler", "at": "2099-01-01T00:00:00+00:00"}


def count(engine: sa.Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


def post(client: TestClient, headers: dict[str, str], body: object) -> tuple[int, dict]:
    response = client.post("/v1/events", headers=headers, json=body)
    return response.status_code, response.json()


def test_the_forged_fire_is_refused_naming_every_field_at_fault_and_stores_nothing(
        client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    status, body = post(client, auth("events:write"), THE_ATTACK)
    assert status == 422
    assert body["error"]["message"].startswith("event.type: 'schedule' events come only from the scheduler")
    assert sorted(d["loc"][-1] for d in body["error"]["details"]) == ["at", "id", "source", "type"]
    assert count(db_engine, Event.__table__) == 0
    assert count(db_engine, ScheduleClaim.__table__) == 0


@pytest.mark.parametrize(("field", "event"), [
    ("type", {"type": "schedule"}),
    ("id", {"type": "backup.requested", "id": FIRE_ID}),
    ("id", {"type": "backup.requested", "id": f"{FIRE_ID}#inv-1"}),  # a for_each evaluation
    ("source", {"type": "backup.requested", "source": "scheduler"}),
])
def test_each_part_of_the_forgery_alone_is_refused(
        field: str, event: dict[str, str], client: TestClient, auth: Callable[..., dict[str, str]],
        db_engine: sa.Engine) -> None:
    status, body = post(client, auth("events:write"), event)
    assert status == 422
    assert body["error"]["message"].startswith(f"event.{field}: ")
    assert count(db_engine, Event.__table__) == 0


def test_an_event_dated_past_the_clock_skew_is_refused_and_one_within_it_is_taken(
        client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    headers = auth("events:write")
    late = (datetime.now(UTC) + timedelta(minutes=6)).isoformat()
    status, body = post(client, headers, {"type": "backup.requested", "at": late})
    assert status == 422
    message = body["error"]["message"]
    assert message.startswith("event.at: ") and "api.event_clock_skew" in message
    soon = (datetime.now(UTC) + timedelta(minutes=4)).isoformat()
    assert post(client, headers, {"type": "backup.requested", "at": soon})[0] == 202
    assert count(db_engine, Event.__table__) == 1
