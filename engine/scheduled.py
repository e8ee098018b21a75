"""Scheduled evaluations: the events a cron/every trigger produces when it fires.

A schedule without ``for_each`` gives one evaluation with empty ``data``; with
``for_each`` the named query runs at the fire time and each row becomes the
``data`` of one evaluation. The scheduler (execution) and ``despacho dry-run
--rule ID --at ...`` both build their events here.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from engine.events import Event
from engine.models import CronTrigger, EveryTrigger
from engine.ruleset import CompiledRule
from store.queries import run_query

SCHEDULE_EVENT_TYPE = "schedule"


def fire_events(rule: CompiledRule, trigger: CronTrigger | EveryTrigger, at: datetime,
                session: Session | None) -> list[Event]:
    """The evaluations one fire of ``trigger`` at ``at`` produces; ids are stable per fire and row."""
    stamp = at.isoformat()
    if trigger.for_each is None:
        return [Event(type=SCHEDULE_EVENT_TYPE, id=f"{rule.id}@{stamp}", at=at, source="scheduler")]
    if session is None:
        raise ValueError(f"rule '{rule.id}' runs the query '{trigger.for_each}': a database is needed")
    rows = run_query(session, trigger.for_each, at, trigger.params)
    return [
        Event(type=SCHEDULE_EVENT_TYPE, id=f"{rule.id}@{stamp}#{_row_key(row, index)}", at=at,
              source="scheduler", data=row)
        for index, row in enumerate(rows)
    ]


def rule_fire_events(rule: CompiledRule, at: datetime, session: Session | None) -> list[Event]:
    """Every scheduled evaluation of a rule at ``at``, over all its schedule triggers."""
    if not rule.schedules:
        raise ValueError(f"rule '{rule.id}' has no cron or every trigger")
    return [event for trigger in rule.schedules for event in fire_events(rule, trigger, at, session)]


def _row_key(row: dict, index: int) -> str:
    # A row's own id keeps the evaluation id stable when the query's order changes.
    for key in ("id", "invoice_id", "appointment_id", "order_id"):
        if isinstance(row.get(key), str):
            return row[key]
    for value in row.values():
        if isinstance(value, dict) and isinstance(value.get("id"), str):
            return value["id"]
    return str(index)
