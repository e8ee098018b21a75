"""Bulk inserts: the rows read back exactly as the ORM's executemany wrote them, on both databases."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlmodel import Session

from engine.language.events import Event
from engine.runtime.intake import accept_events
from store.bulk import _driver_insert, _driver_rows, insert_rows
from store.db import session_scope
from store.models.runs import RuleRun, RuleStep
from store.run_lifecycle import RunStatus, StepStatus
from store.types import UTCDateTime

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def run_row(run_id: str, event_id: str, **fields: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": run_id, "rule_id": "r", "event_id": event_id, "status": RunStatus.PLANNED, "skip_reason": None,
        "dedupe_key": None, "throttle_key": None, "context": {"n": 1, "nested": {"a": [1, "dois"]}},
        "held_until": None, "hold_reason": None, "ruleset_version": "v1", "trace": None,
        "created_at": AT, "started_at": None, "finished_at": None}
    row.update(fields)
    return row


def step_row(step_id: str, run_id: str) -> dict[str, object]:
    return {"id": step_id, "run_id": run_id, "position": 0, "step_key": "a", "action": "log.write",
            "fallback_of": None, "params": {}, "output": None, "status": StepStatus.QUEUED, "attempts": 0,
            "max_attempts": 3, "idempotency_key": f"r:{run_id}:a", "last_error": None, "error_code": None,
            "not_before": None, "hold_reason": None, "next_attempt_at": AT + timedelta(minutes=5),
            "created_at": AT, "queued_at": AT, "started_at": None, "finished_at": None}


def stored_events(engine: sa.Engine, count: int) -> None:
    with session_scope(engine) as session:
        accept_events(session, [Event(type="t", id=f"e{i}") for i in range(count)])


def test_runs_and_steps_read_back_with_their_types_json_and_null_json(engine: sa.Engine) -> None:
    stored_events(engine, 2)
    with session_scope(engine) as session:
        insert_rows(session, RuleRun.__table__, [run_row("run-0", "e0"),
                                                 run_row("run-1", "e1", held_until=AT, hold_reason="quiet")])
        insert_rows(session, RuleStep.__table__, [step_row("step-0", "run-0"), step_row("step-1", "run-1")])
    with Session(engine) as session:
        runs = {run.id: run for run in session.execute(sa.select(RuleRun)).scalars()}
        steps = {step.id: step for step in session.execute(sa.select(RuleStep)).scalars()}
        json_nulls = session.execute(sa.select(sa.func.count()).select_from(RuleRun)
                                     .where(RuleRun.__table__.c.trace.is_(None))).scalar()
    assert runs["run-0"].context == {"n": 1, "nested": {"a": [1, "dois"]}}
    assert runs["run-0"].status == "planned" and runs["run-0"].trace is None
    assert runs["run-1"].held_until == AT and runs["run-1"].hold_reason == "quiet"
    assert steps["step-0"].next_attempt_at == AT + timedelta(minutes=5) and steps["step-0"].status == "queued"
    assert steps["step-1"].params == {} and steps["step-1"].max_attempts == 3
    # stored as JSON null, as SQLAlchemy's JSON type stores None (SQL NULL would be a second meaning)
    assert json_nulls == 0


def test_rows_with_different_columns_are_refused(engine: sa.Engine) -> None:
    stored_events(engine, 2)
    short = run_row("run-1", "e1")
    del short["trace"]
    with pytest.raises(ValueError, match="same columns"), session_scope(engine) as session:
        insert_rows(session, RuleRun.__table__, [run_row("run-0", "e0"), short])


def test_a_naive_timestamp_is_refused_not_guessed(engine: sa.Engine) -> None:
    stored_events(engine, 1)
    naive = run_row("run-0", "e0", created_at=datetime(2026, 12, 1))
    refused = pytest.raises((ValueError, sa.exc.StatementError), match="time zone")
    with refused, session_scope(engine) as session:
        insert_rows(session, RuleRun.__table__, [naive])


def test_sqlite_rows_convert_a_repeated_timestamp_once_per_column_with_that_columns_type() -> None:
    # a zone-keeping column beside a UTC one: the same moment is stored differently in each
    local = sa.Table("t", sa.MetaData(), sa.Column("id", sa.String, primary_key=True),
                     sa.Column("at", UTCDateTime), sa.Column("raw", sa.String))
    moment = datetime(2026, 12, 1, 9, 0, tzinfo=timezone(timedelta(hours=-3)))
    rows = [{"id": f"r{i}", "at": moment, "raw": moment} for i in range(3)]
    calls: list[object] = []

    def stamped(value: object) -> str:
        calls.append(value)
        return f"raw:{value}"

    statement, processors = _driver_insert(local, ("id", "at", "raw"), sqlite.dialect())
    values = _driver_rows(rows, ("id", "at", "raw"), (*processors, (2, stamped, True)))
    assert statement.startswith("INSERT INTO t (id, at, raw) VALUES")
    assert {tuple(row[1:]) for row in values} == {("2026-12-01 12:00:00.000000", f"raw:{moment}")}
    assert calls == [moment]  # once for its column, not once per row
