"""The group commit of POST /v1/events: one client's bad event never fails another client's request.

Run on SQLite and on PostgreSQL, where the database itself refuses what the
edge let through (NaN in a json column, a NUL in text).
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI

from api.audit import RequestAudit
from api.intake import EventIntake
from api.metrics import Metrics
from engine.language.events import Event
from engine.runtime.intake import Accepted
from store.audit import REQUEST_ACTION, entry_values, query_entries
from store.db import session_scope
from store.migrate import upgrade
from tests.api.routes.test_events import stored_events
from tests.support.postgres import create_pg_database, drop_pg_database


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, migrated_template: Path, tmp_path: Path) -> Iterator[str]:
    """Replaces the SQLite-only ``db_url`` of tests/api/conftest.py for this module."""
    if request.param == "sqlite":
        path = tmp_path / "api.db"
        path.write_bytes(migrated_template.read_bytes())
        yield f"sqlite:///{path}"
        return
    name = f"despacho_test_{uuid.uuid4().hex[:12]}"
    url = create_pg_database(name)
    try:
        upgrade(url)
        yield url
    finally:
        drop_pg_database(name)


def _refused_by_the_database(engine: sa.Engine) -> list[Event]:
    # events the edge would refuse, built here to reach the shared commit; the store refuses a blank id
    bad = [Event(type="a.b", id=" ")]
    if engine.dialect.name == "postgresql":
        bad += [Event(type="a.b", id="nan", data={"x": float("nan")}), Event(type="a.b", id="nul\x00")]
    return bad


def test_a_failed_shared_commit_is_retried_request_by_request(db_engine: sa.Engine) -> None:
    good = [[Event(type="a.b", id=f"g{i}")] for i in range(6)]
    bad = [[event] for event in _refused_by_the_database(db_engine)]
    requests = good[:3] + bad + good[3:]
    intake = EventIntake(db_engine)

    async def submit_all() -> list[list[Accepted] | BaseException]:
        # every submit is queued before the writer runs: they share one batch
        results = await asyncio.gather(*(intake.submit(r) for r in requests), return_exceptions=True)
        await intake.stop()
        return results

    results = asyncio.run(submit_all())
    answers = dict(zip((r[0].id for r in requests), results, strict=True))
    for request in good:
        assert answers[request[0].id] == [Accepted(request[0].id, True)]
    for request in bad:
        assert isinstance(answers[request[0].id], Exception)
    assert set(stored_events(db_engine)) == {f"g{i}" for i in range(6)}


def test_one_clients_bad_event_fails_only_its_own_request(
        app: FastAPI, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    headers = {**auth("events:write"), "Content-Type": "application/json"}
    good = [json.dumps({"type": "a.b", "id": f"g{i}", "data": {"n": i}}) for i in range(30)]
    bad = ['{"type": "a.b", "id": "nan", "data": {"amount": NaN}}',
           '[{"type": "a.b", "id": "inf", "data": {"amount": -Infinity}}]',
           json.dumps({"type": "a.b", "id": "nul", "data": {"note": "a\x00b"}}),
           json.dumps({"type": "a.b", "id": " "})]  # passes the edge; the store refuses it
    bodies = good[:10] + bad[:2] + good[10:20] + bad[2:] + good[20:]

    async def post_all() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return await asyncio.gather(*(client.post("/v1/events", content=b, headers=headers)
                                          for b in bodies))

    responses = dict(zip(bodies, asyncio.run(post_all()), strict=True))
    assert {body: r.status_code for body, r in responses.items() if r.status_code != 202} == {
        body: 422 for body in bad}
    assert responses[bad[0]].json()["error"]["message"].startswith("event.data.amount: NaN")
    assert responses[bad[1]].json()["error"]["message"].startswith("events[0].data.amount: -Infinity")
    assert set(stored_events(db_engine)) == {f"g{i}" for i in range(30)}


def _audit(engine: sa.Engine) -> RequestAudit:
    return RequestAudit(engine, Metrics(engine))


def _row(n: int, **changes: Any) -> dict[str, Any]:
    return {**entry_values("api_client:c1", REQUEST_ACTION, entity_type="route",
                           entity_id="POST /v1/events", details={"n": n}), **changes}


def _audited(engine: sa.Engine) -> list[int]:
    with session_scope(engine) as session:
        return sorted(entry.details["n"] for entry in query_entries(session, action=REQUEST_ACTION))


def _submit_each(intake: EventIntake, *requests: list[Event]) -> list[list[Accepted] | BaseException]:
    async def run() -> list[list[Accepted] | BaseException]:
        try:
            answers: list[list[Accepted] | BaseException] = []
            for events in requests:
                try:
                    answers.append(await intake.submit(events))
                except Exception as exc:
                    answers.append(exc)
            return answers
        finally:
            await intake.stop()

    return asyncio.run(run())


def test_pending_request_audit_rows_are_committed_with_the_events(db_engine: sa.Engine) -> None:
    audit = _audit(db_engine)
    audit.add(_row(1))
    audit.add(_row(2))
    answers = _submit_each(EventIntake(db_engine, along=audit), [Event(type="a.b", id="w1")])
    assert answers == [[Accepted("w1", True)]]
    assert _audited(db_engine) == [1, 2]  # no flush: they were in the events' transaction
    assert audit.flush() == 0


def test_audit_rows_the_database_refuses_are_dropped_and_never_fail_the_events(
        db_engine: sa.Engine, caplog: pytest.LogCaptureFixture) -> None:
    audit = _audit(db_engine)
    audit.add(_row(1))
    audit.add(_row(2, actor=None))  # NOT NULL: refused by SQLite and PostgreSQL alike
    audit.add(_row(3))
    answers = _submit_each(EventIntake(db_engine, along=audit), [Event(type="a.b", id="w2")],
                           [Event(type="a.b", id="w3")])
    assert answers == [[Accepted("w2", True)], [Accepted("w3", True)]]
    assert set(stored_events(db_engine)) == {"w2", "w3"}
    assert _audited(db_engine) == [1, 3]
    assert audit.metrics.registry.get_sample_value("despacho_audit_rows_dropped_total") == 1
    assert "a request audit row was refused by the database and dropped" in caplog.text


def test_audit_rows_of_a_failed_event_commit_wait_for_the_next_write(db_engine: sa.Engine) -> None:
    audit = _audit(db_engine)
    audit.add(_row(1))
    answers = _submit_each(EventIntake(db_engine, along=audit), [Event(type="a.b", id=" ")])
    assert isinstance(answers[0], Exception)  # the store refuses a blank id: the commit failed
    assert _audited(db_engine) == []
    assert audit.flush() == 1
    assert _audited(db_engine) == [1]


def test_a_flush_under_way_keeps_its_rows_and_the_events_commit_without_them(db_engine: sa.Engine) -> None:
    audit = _audit(db_engine)
    audit.add(_row(1))
    with audit._flushing:  # the audit's timer is writing: the intake holds the write turn, so never waits
        answers = _submit_each(EventIntake(db_engine, along=audit), [Event(type="a.b", id="w4")])
    assert answers == [[Accepted("w4", True)]]
    assert _audited(db_engine) == []
    assert audit.flush() == 1


def test_requests_arriving_while_the_loop_turns_share_the_first_ones_commit(db_engine: sa.Engine) -> None:
    commits: list[int] = []
    intake = EventIntake(db_engine, after_store=lambda: commits.append(len(stored_events(db_engine))))

    async def late(n: int) -> list[Accepted]:
        for _ in range(n):  # a request still being checked when the first one is submitted
            await asyncio.sleep(0)
        return await intake.submit([Event(type="a.b", id=f"late{n}")])

    async def run() -> list[list[Accepted]]:
        try:
            first = intake.submit([Event(type="a.b", id="first")])
            return list(await asyncio.gather(first, late(1), late(3)))
        finally:
            await intake.stop()

    assert [a[0].stored for a in asyncio.run(run())] == [True, True, True]
    assert commits == [3]


def test_the_api_writes_request_audit_rows_with_the_event_commits(
        app: FastAPI, auth: Callable[..., dict[str, str]], db_engine: sa.Engine) -> None:
    headers = {**auth("events:write"), "Content-Type": "application/json"}

    async def post_in_turn() -> list[int]:
        # no lifespan here: the audit's timer never runs, only the event commits can write its rows
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://api") as client:
            return [(await client.post("/v1/events", headers=headers,
                                       content=json.dumps({"type": "a.b", "id": f"a{i}"}))).status_code
                    for i in range(3)]

    assert asyncio.run(post_in_turn()) == [202, 202, 202]
    with db_engine.connect() as connection:
        requests = connection.execute(sa.text(
            "SELECT count(*) FROM audit_log WHERE action = 'http.request'")).scalar_one()
    assert requests >= 2  # each request's row rides with a later commit; the last may still wait
