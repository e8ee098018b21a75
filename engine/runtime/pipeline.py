"""The event pipeline of one process: relay events into runs, run steps, reap what got stuck.

The database is the truth and the outbox: every transaction that queues
steps hands them to ``send`` only after it commits. A step queued but never
sent (no broker in this process, a lost message, a Redis restart) is found by
the reaper; an event stored but never planned is found by the relay.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
import structlog
from sqlmodel import Session, select

from engine.language.events import Event
from engine.language.ruleset import CompiledRule, RuleSet
from engine.runtime.executor import Claim, Executor, Recorded
from engine.runtime.intake import Accepted, accept_events
from engine.runtime.planner import Planner, PlanResult
from engine.runtime.scheduled import fire_events, query_rows
from errors import ConnectorError, TransientError
from store.db import session_scope
from store.eventlog import mark_dispatched
from store.models.events import Event as EventRow
from store.models.runs import RuleRun, RuleStep
from store.types import utcnow

log = structlog.get_logger("despacho.pipeline")

Sender = Callable[[list[str], int], None]  # (step ids, delay in ms)
# Steps due now travel in batches: one message and two commits serve several steps, while
# a relay pass is still spread over the worker threads (a pass's steps in about this many parts).
MAX_BATCH = 64
SPREAD = 8
_ENQUEUE = "despacho_enqueue"


Outcome = tuple[str, dict[str, Any], dict[str, Any]] | ConnectorError


def _bound(claim: Claim) -> Any:
    return structlog.contextvars.bound_contextvars(step_id=claim.step.id, run_id=claim.run.id,
                                                   rule_id=claim.run.rule_id, event_id=claim.event.id)


@dataclass
class Timeouts:
    running: timedelta = timedelta(minutes=5)  # a step running longer is taken back
    queued: timedelta = timedelta(seconds=30)  # a due step still queued this long is sent again


class Pipeline:
    def __init__(self, db: sa.Engine, rules: Callable[[], RuleSet], planner: Planner, executor: Executor,
                 send: Sender | None = None, timeouts: Timeouts | None = None) -> None:
        self.db = db
        self.rules = rules
        self.planner = planner
        self.executor = executor
        self.send = send
        self.timeouts = timeouts or Timeouts()

    # --- transactions -----------------------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session that commits on success; queued steps are sent after the commit."""
        with session_scope(self.db) as session:
            session.info[_ENQUEUE] = []
            yield session
        self._send_all(session.info[_ENQUEUE])

    def _send_all(self, steps: list[RuleStep]) -> None:
        if self.send is None or not steps:
            return
        now = utcnow()
        due_now = [step.id for step in steps if step.next_attempt_at is None or step.next_attempt_at <= now]
        later = [step for step in steps if step.next_attempt_at is not None and step.next_attempt_at > now]
        size = min(MAX_BATCH, max(1, -(-len(due_now) // SPREAD)))
        messages = [(due_now[i:i + size], 0) for i in range(0, len(due_now), size)]
        messages += [([step.id], int((step.next_attempt_at - now).total_seconds() * 1000)) for step in later]
        for index, (ids, delay) in enumerate(messages):
            try:
                self.send(ids, delay)
            except Exception as exc:  # the broker is away; the rows are committed and the reaper resends
                log.warning("send_failed", unsent=len(messages) - index, error=str(exc))
                return

    @staticmethod
    def enqueue_after_commit(session: Session, steps: list[RuleStep]) -> None:
        session.info.setdefault(_ENQUEUE, []).extend(steps)

    # --- intake and relay -------------------------------------------------------------------------

    def accept(self, events: list[Event]) -> list[Accepted]:
        with self.transaction() as session:
            return accept_events(session, events)

    def relay_once(self, limit: int = 500) -> int:
        """Plan the oldest undispatched events; returns how many were handed on.

        A batch is planned in one transaction. If planning fails, the batch is
        planned again one event at a time, so one poison event is recorded as a
        failed run and cannot hold up the others.
        """
        try:
            with self.transaction() as session:
                return self._relay(session, self._claim_events(session, limit))
        except Exception:
            log.exception("relay_batch_failed")
        handed_on = 0
        for _ in range(limit):
            try:
                with self.transaction() as session:
                    moved = self._relay(session, self._claim_events(session, 1))
            except Exception as exc:
                self._record_poison(exc)
                moved = 1
            if not moved:
                break
            handed_on += moved
        return handed_on

    def _relay(self, session: Session, rows: list[Any]) -> int:
        now = utcnow()
        result = PlanResult()
        matcher = self.rules().matcher
        for row in rows:
            event = Event(type=row.type, id=row.id, at=row.occurred_at, source=row.source, data=row.payload)
            self.planner.plan(session, event, matcher.rules_for(row.type), now, result, write=False)
        result.write(session)
        mark_dispatched(session, [row.id for row in rows], now)
        self.enqueue_after_commit(session, result.queued)
        return len(rows)


    def _record_poison(self, error: Exception) -> None:
        """The oldest undispatched event cannot be planned: record why and move past it."""
        with self.transaction() as session:
            (row,) = self._claim_events(session, 1) or (None,)
            if row is None:
                return
            log.error("event_unplannable", event_id=row.id, event_type=row.type, error=str(error))
            session.add(RuleRun(rule_id="(planner)", event_id=row.id, status="failed",
                                skip_reason=f"planning error: {type(error).__name__}: {error}"[:500]))
            session.flush()
            mark_dispatched(session, [row.id], utcnow())

    def _claim_events(self, session: Session, limit: int) -> list[Any]:
        """The oldest undispatched events, as plain rows (the relay's hot path)."""
        events = EventRow.__table__
        query = (sa.select(events.c.id, events.c.type, events.c.occurred_at, events.c.source,
                           events.c.payload)
                 .where(events.c.dispatched_at.is_(None)).order_by(events.c.occurred_at).limit(limit))
        if self.db.dialect.name == "postgresql":
            # Several relays (one per worker process) share the queue without planning twice.
            query = query.with_for_update(skip_locked=True)
        return list(session.execute(query))

    def fire_schedule(self, rule: CompiledRule, index: int, at: datetime) -> int:
        """Claim one fire of a rule's schedule and plan its evaluations; 0 when already claimed."""
        trigger = rule.schedules[index]
        local_at = at.astimezone(ZoneInfo(trigger.timezone or self.planner.timezone))
        with self.transaction() as session:
            claim, _ = fire_events(rule, trigger, local_at, None if trigger.for_each is None else [])
            if not accept_events(session, [claim])[0].stored:
                return 0
            rows = query_rows(session, rule, trigger, local_at)
            claim, evaluations = fire_events(rule, trigger, local_at, rows)
            if rows is not None:
                session.get(EventRow, claim.id).payload = claim.data
                accept_events(session, evaluations)
            now = utcnow()
            result = PlanResult()
            self.planner.plan_many(session, evaluations, [rule], now, result)
            fired = [claim.id, *(event.id for event in evaluations)]
            session.execute(sa.update(EventRow).where(EventRow.id.in_(fired)).values(dispatched_at=now))
            self.enqueue_after_commit(session, result.queued)
            return len(evaluations)

    # --- steps ------------------------------------------------------------------------------------

    def run_step(self, step_id: str) -> str | None:
        """Run one step end to end; ``None`` when it was not ours to run (done, running, not due)."""
        return self.run_steps([step_id])[step_id]

    def run_steps(self, step_ids: list[str]) -> dict[str, str | None]:
        """Run a batch of steps: one claim transaction, the connector calls, one record transaction."""
        with self.transaction() as session:
            claims = self.executor.claim_many(session, step_ids)
        results: dict[str, str | None] = dict.fromkeys(step_ids)
        outcomes = [(claim, self._perform(claim)) for claim in claims]
        closings = [(claim, *outcome) for claim, outcome in outcomes
                    if not isinstance(outcome, ConnectorError) and self.executor.closes_run_plainly(claim)]
        closing_ids = {claim.step.id for claim, *_ in closings}
        with self.transaction() as session, session.no_autoflush:  # one flush, at the commit
            if closings:
                self.executor.record_closing_successes(session, closings)
            for claim, outcome in outcomes:
                if claim.step.id in closing_ids:
                    results[claim.step.id] = outcome[0]
                    continue
                with _bound(claim):
                    recorded = self._record(session, claim.step.id, outcome)
                self.enqueue_after_commit(session, recorded.queued)
                results[claim.step.id] = recorded.status
        return results

    def _perform(self, claim: Claim) -> Outcome:
        with _bound(claim):
            try:
                return self.executor.perform(claim)
            except ConnectorError as exc:
                return exc
            except Exception as exc:  # a connector bug is recorded and retried, not lost
                log.exception("step_unexpected_error", action=claim.step.action)
                return TransientError(f"unexpected {type(exc).__name__}: {exc}")

    def _record(self, session: Session, step_id: str, outcome: Outcome) -> Recorded:
        if isinstance(outcome, ConnectorError):
            return self.executor.record_failure(session, step_id, outcome)
        status, params, outputs = outcome
        return self.executor.record_success(session, step_id, status, params, outputs)

    def step_exhausted(self, step_id: str, reason: str) -> None:
        """Dramatiq gave up on a step (the worker kept failing): it dies like any other."""
        with self.transaction() as session:
            step = session.get(RuleStep, step_id)
            if step is None or step.status in ("succeeded", "dead", "skipped"):
                return
            step.last_error, step.error_code = reason, "worker_error"
            recorded = self.executor.kill(session, step, utcnow())
            self.enqueue_after_commit(session, recorded.queued)

    def delivery_failed(self, session: Session, step_id: str, error_code: str, message: str) -> None:
        """A provider said, after the fact, that a sent message failed: its fallback runs now."""
        step = session.get(RuleStep, step_id)
        if step is None or step.status == "dead":
            return
        step.last_error, step.error_code = message[:2000], error_code
        recorded = self.executor.kill(session, step, utcnow())
        self.enqueue_after_commit(session, recorded.queued)

    # --- reaper -----------------------------------------------------------------------------------

    def recover(self) -> int:
        """At the start of an embedded daemon: running steps are ours again, queued ones are resent."""
        table = RuleStep.__table__
        with self.transaction() as session:
            session.execute(sa.update(table).where(table.c.status == "running")
                            .values(status="queued", next_attempt_at=None))
            pending = list(session.exec(select(RuleStep).where(RuleStep.status == "queued")))
            self.enqueue_after_commit(session, pending)
        if pending:
            log.info("steps_recovered", count=len(pending))
        return len(pending)

    def reap_once(self) -> int:
        """Take back steps stuck ``running``; send again due steps left ``queued``."""
        now = utcnow()
        with self.transaction() as session:
            taken_back = list(session.exec(
                select(RuleStep).where(RuleStep.status == "running",
                                       RuleStep.started_at < now - self.timeouts.running).limit(1000)))
            forgotten = list(session.exec(
                select(RuleStep).where(RuleStep.status == "queued",
                                       RuleStep.queued_at < now - self.timeouts.queued,
                                       sa.or_(RuleStep.next_attempt_at.is_(None),
                                              RuleStep.next_attempt_at <= now))
                .limit(1000)))
            for step in taken_back:
                step.status, step.next_attempt_at = "queued", None
            for step in (*taken_back, *forgotten):
                step.queued_at = now
            self.enqueue_after_commit(session, [*taken_back, *forgotten])
        if taken_back or forgotten:
            log.warning("steps_requeued", running=len(taken_back), queued=len(forgotten))
        return len(taken_back) + len(forgotten)


