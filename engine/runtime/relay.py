"""The relay: stored events become planned runs, and schedule fires are claimed and planned.

A batch of the oldest undispatched events is planned in one transaction; the
steps it queued are sent by the outbox once it commits. If planning fails,
the batch is planned again one event at a time, so one poison event is
recorded as a failed run and cannot hold up the others.

Embedded, the relay claims the due first steps it plans for this process's
threads in the same transaction (``ClaimTaker``, ``engine.runtime.local``),
and plans no further ahead than those threads have room for.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import structlog
from sqlmodel import col

from engine.language.events import Event
from engine.language.ruleset import CompiledRule, RuleSet
from engine.runtime.claims import Claim, planned_claim
from engine.runtime.infra import is_infrastructure_error
from engine.runtime.intake import accept_events
from engine.runtime.outbox import Outbox, Transaction
from engine.runtime.planner import Planner, PlanResult
from engine.runtime.scheduled import fire_events, query_rows
from engine.runtime.steps import NewStep
from store.eventlog import mark_dispatched
from store.models.events import Event as EventRow
from store.models.runs import RuleRun
from store.run_lifecycle import RunStatus
from store.schedule_claims import claim_fire
from store.types import utcnow

log = structlog.get_logger("despacho.relay")

RELAY_BATCH = 500  # events planned in one transaction


class ClaimTaker(Protocol):
    """This process's threads, taking the steps the relay claims as it plans them (embedded)."""

    @property
    def lease(self) -> timedelta: ...

    def room(self) -> int:
        """How many more claimed steps the threads can take now."""

    def take_claimed(self, claims: list[Claim]) -> None:
        """Claims committed ``running``: the threads hold their leases and run them."""


class Relay:
    def __init__(self, outbox: Outbox, rules: Callable[[], RuleSet], planner: Planner,
                 threads: ClaimTaker | None = None) -> None:
        self.outbox = outbox
        self.rules = rules
        self.planner = planner
        self.threads = threads

    def relay_once(self, limit: int = RELAY_BATCH) -> int:
        """Plan the oldest undispatched events; returns how many were handed on."""
        if self.threads is not None:
            # the rest wait in the event log; the threads wake the relay when they have room
            limit = min(limit, self.threads.room())
            if limit <= 0:
                return 0
        try:
            return self._plan(limit)
        except Exception as exc:  # planned again one by one below: the culprit is recorded, not lost
            if is_infrastructure_error(exc):
                raise  # the database is away: no event is to blame, the daemon's loop backs off
            log.exception("relay_batch_failed")
        handed_on = 0
        for _ in range(limit):
            try:
                moved = self._plan(1)
            except Exception as exc:
                if is_infrastructure_error(exc):
                    raise
                self._record_poison(exc)
                moved = 1
            if not moved:
                break
            handed_on += moved
        return handed_on

    def _plan(self, limit: int) -> int:
        """One transaction: up to ``limit`` events planned; claimed steps handed over once it commits."""
        claims: list[Claim] = []
        with self.outbox.transaction() as tx:
            moved = self._relay(tx, self._claim_events(tx, limit), claims)
        if claims and self.threads is not None:
            self.threads.take_claimed(claims)
        return moved

    def _relay(self, tx: Transaction, rows: list[Any], claims: list[Claim]) -> int:
        now = utcnow()
        ruleset = self.rules()  # the matcher and the version from the same set, even across a reload
        result = PlanResult(ruleset_version=ruleset.version or None)
        matcher = ruleset.matcher
        events: dict[str, Event] = {}
        for row in rows:
            event = events[row.id] = Event(type=row.type, id=row.id, at=row.occurred_at, source=row.source,
                                           data=row.payload)
            self.planner.plan(tx.session, event, matcher.rules_for(row.type), now, result, write=False)
        queued = result.queued
        if self.threads is not None:
            queued = self._claim_planned(result, events, now, claims)
        result.write(tx.session)
        mark_dispatched(tx.session, [row.id for row in rows], now)
        tx.send_after_commit(queued)
        return len(rows)

    def _claim_planned(self, result: PlanResult, events: dict[str, Event], now: datetime,
                       claims: list[Claim]) -> list[NewStep]:
        """Claim the due first steps of runs not written yet into ``claims``; the steps left to send.

        A run the planner wrote already (a rule with dedupe, throttle or a mode counts its runs
        as it plans) and a step not due yet are queued as usual.
        """
        assert self.threads is not None
        unwritten = {run["id"]: run for run in result.new_runs}
        lease = self.threads.lease
        rest = []
        for step in result.queued:
            run = unwritten.get(step.row["run_id"])
            due = step.next_attempt_at is None or step.next_attempt_at <= now
            if run is None or not due or run["status"] != RunStatus.PLANNED:
                rest.append(step)
                continue
            claims.append(planned_claim(step.row, run, events[run["event_id"]], now, lease))
        return rest

    def _record_poison(self, error: Exception) -> None:
        """The oldest undispatched event cannot be planned: record why and move past it."""
        with self.outbox.transaction() as tx:
            (row,) = self._claim_events(tx, 1) or (None,)
            if row is None:
                return
            log.error("event_unplannable", event_id=row.id, event_type=row.type, error=str(error))
            tx.session.add(RuleRun(rule_id="(planner)", event_id=row.id, status=RunStatus.FAILED,
                                   ruleset_version=self.rules().version or None,
                                   skip_reason=f"planning error: {type(error).__name__}: {error}"[:500]))
            tx.session.flush()
            mark_dispatched(tx.session, [row.id], utcnow())

    def _claim_events(self, tx: Transaction, limit: int) -> list[Any]:
        """The oldest undispatched events, as plain rows (the relay's hot path)."""
        events = EventRow.__table__
        query = (sa.select(events.c.id, events.c.type, events.c.occurred_at, events.c.source,
                           events.c.payload)
                 .where(events.c.dispatched_at.is_(None)).order_by(events.c.occurred_at).limit(limit))
        if self.outbox.db.dialect.name == "postgresql":
            # Several relays (one per worker process) share the queue without planning twice.
            query = query.with_for_update(skip_locked=True)
        return list(tx.session.execute(query))

    def fire_schedule(self, rule: CompiledRule, index: int, at: datetime) -> int:
        """Claim one fire of a rule's schedule and plan its evaluations; 0 when already claimed."""
        trigger = rule.schedules[index]
        local_at = at.astimezone(ZoneInfo(trigger.time_zone or self.planner.timezone))
        with self.outbox.transaction() as tx:
            session = tx.session
            if not claim_fire(session, rule.id, at):  # its own table: no event id can take a fire
                return 0
            rows = query_rows(session, rule, trigger, local_at)
            claim, evaluations = fire_events(rule, trigger, local_at, rows)
            accept_events(session, evaluations if rows is None else [claim, *evaluations])
            now = utcnow()
            result = PlanResult(ruleset_version=self.rules().version or None)
            self.planner.plan_many(session, evaluations, [rule], now, result)
            fired = [claim.id, *(event.id for event in evaluations)]
            session.execute(sa.update(EventRow).where(col(EventRow.id).in_(fired)).values(dispatched_at=now))
            tx.send_after_commit(result.queued)
            return len(evaluations)
