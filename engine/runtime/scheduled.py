"""Scheduled evaluations: the events a cron/every trigger produces when it fires.

A fire is claimed in the ``schedule_claims`` table (``store.schedule_claims``),
never through the event log, which API clients write too. The fire's event is
``<rule>@<fire time>``: without ``for_each`` it is the one evaluation (empty
``data``); with ``for_each`` the named query runs at the fire time, the fire's
event records how many rows it found, and each row becomes the ``data`` of an
evaluation ``<rule>@<fire time>#<row id>``. These ids are reserved
(``store.reserved_events``): the API refuses them. The scheduler and ``despacho
dry-run --rule ID --at ...`` both build their events here; that dry-run also
reads here, at the fire time, the rows of the rule's ``records.query`` steps
whose params are written out (read only), so it shows the calls a loop over
them would make.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from engine.language.events import Event
from engine.language.models import CronTrigger, EveryTrigger
from engine.language.ruleset import CompiledAction, CompiledRule
from engine.language.templating import value_references
from store.queries import run_query
from store.reserved_events import SCHEDULE_EVENT_TYPE, SCHEDULE_SOURCE

__all__ = ["SCHEDULE_EVENT_TYPE", "SCHEDULE_SOURCE", "fire_events", "query_rows", "records_at"]


def query_rows(session: Session | None, rule: CompiledRule, trigger: CronTrigger | EveryTrigger,
               at: datetime) -> list[dict[str, Any]] | None:
    """The ``for_each`` rows at ``at``, or ``None`` for a trigger without a query."""
    if trigger.for_each is None:
        return None
    if session is None:
        raise ValueError(f"rule '{rule.id}' runs the query '{trigger.for_each}': a database is needed")
    return run_query(session, trigger.for_each, at, trigger.params)


def fire_events(rule: CompiledRule, trigger: CronTrigger | EveryTrigger, at: datetime,
                rows: list[dict[str, Any]] | None) -> tuple[Event, list[Event]]:
    """The event of one fire and the evaluations it starts (the same one without ``for_each``)."""
    stamp = at.isoformat()
    claim_data = {"for_each": trigger.for_each, "rows": len(rows)} if rows is not None else {}
    claim = Event(type=SCHEDULE_EVENT_TYPE, id=f"{rule.id}@{stamp}", at=at, source=SCHEDULE_SOURCE,
                  data=claim_data)
    if rows is None:
        return claim, [claim]
    evaluations = [
        Event(type=SCHEDULE_EVENT_TYPE, id=f"{claim.id}#{_row_key(row, index)}", at=at,
              source=SCHEDULE_SOURCE, data=row)
        for index, row in enumerate(rows)
    ]
    return claim, evaluations


def records_at(session: Session, rule: CompiledRule, at: datetime) -> dict[str, list[dict[str, Any]]]:
    """The rows the rule's ``records.query`` steps would read at ``at``, by query name, for dry-run.

    Only steps whose params hold no template: the others depend on the evaluation's data. ``at``
    must be in the company's zone, as the connector passes it.
    """
    found: dict[str, list[dict[str, Any]]] = {}
    for action in _all_actions(rule.actions):
        if action.uses != "records.query" or value_references(action.params).variables:
            continue
        params = action.params.render({})
        found[params["query"]] = run_query(session, params["query"], at, params.get("params"))
    return found


def _all_actions(actions: tuple[CompiledAction, ...]) -> list[CompiledAction]:
    return [found for action in actions for found in (action, *_all_actions(action.fallback))]


def _row_key(row: dict[str, Any], index: int) -> str:
    # A row's own id keeps the evaluation id stable when the query's order changes.
    for value in row.values():
        if isinstance(value, dict) and isinstance(row_id := value.get("id"), str):
            return row_id
    return str(index)
