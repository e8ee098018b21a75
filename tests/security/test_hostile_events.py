"""Attacks on event intake, replayed: each is refused at the edge and stores nothing.

Grows with every defence: one test per attack, named after what it tries.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from store.models import Event

HOSTILE_BODIES = {
    "a NaN that PostgreSQL jsonb cannot store": '{"type": "a.b", "data": {"amount": NaN}}',
    "an Infinity": '{"type": "a.b", "data": {"amount": -Infinity}}',
    "a number that overflows to infinity": '{"type": "a.b", "data": {"amount": 1e999}}',
    "a NUL in a key": '{"type": "a.b", "data": {"no\\u0000te": 1}}',
    "a NUL in the event id": '{"type": "a.b", "id": "e\\u0000"}',
    "a lone surrogate": '{"type": "a.b", "data": {"name": "\\ud800x"}}',
    "a recursion bomb": '{"type": "a.b", "data": ' + "[" * 100_000 + "]" * 100_000 + "}",
}


def stored(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(Event.__table__)).scalar_one()


@pytest.mark.parametrize("attack", sorted(HOSTILE_BODIES))
def test_a_hostile_event_is_refused_naming_its_field_and_stores_nothing(
        attack: str, client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    headers = {**auth("events:write"), "Content-Type": "application/json"}
    response = client.post("/v1/events", headers=headers, content=HOSTILE_BODIES[attack])
    assert response.status_code == 422, attack
    message = response.json()["error"]["message"]
    assert message.startswith(("event.", "body:")), message  # names where the bad value is
    assert stored(db_engine) == 0


def test_a_body_over_the_limit_is_refused_before_it_is_read(
        client: TestClient, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    body = '{"type": "a.b", "data": {"blob": "' + "x" * (2 * 1024 * 1024) + '"}}'
    response = client.post("/v1/events", headers={**auth("events:write"), "Content-Type": "application/json"},
                           content=body)
    assert response.status_code == 413
    assert stored(db_engine) == 0
