"""The step tree of a run, and how a run moves along it.

Every action of a rule, fallbacks included, becomes a step row when the run
is planned, so nothing but the database is needed to move on: when a step
succeeds its chain continues (a fallback chain that succeeds stands in for
the action that failed), when it dies it becomes a dead letter, fires
``action.failed`` and its first fallback is queued, or the chain fails and
the failure climbs to the parent chain. Statuses move only along the edges of
``store.run_lifecycle``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from sqlmodel import Session, col, select

from engine.language.ruleset import CompiledAction, RuleSet
from engine.runtime.followups import FOLLOWUP_TYPES, RUN_COMPLETED, action_failed, run_completed
from engine.runtime.outbox import Transaction
from engine.runtime.retrying import backoff
from errors import ConnectorError, TransientError
from personal_data import mask_error, mask_text
from store.bulk import insert_rows
from store.models.events import Event as EventRow
from store.models.runs import DeadLetter, RuleRun, RuleStep
from store.run_lifecycle import RunStatus, StepStatus, check_run, check_step
from store.runs import finish_ending_steps, finish_run, finish_step
from store.types import new_id

log = structlog.get_logger("despacho.steps")

_MAX_KEY = 300


def idempotency_key(rule_id: str, event_id: str, step_key: str) -> str:
    """One key per (rule, event, action); hashed when it would not fit the column."""
    key = f"{rule_id}:{event_id}:{step_key}"
    if len(key) <= _MAX_KEY:
        return key
    return f"{rule_id[:100]}:{hashlib.sha256(key.encode()).hexdigest()}"


@dataclass
class NewStep:
    """A step row about to be inserted; ``id`` and ``next_attempt_at`` are what sending needs."""

    id: str
    row: dict[str, Any]

    @property
    def next_attempt_at(self) -> datetime | None:
        at: datetime | None = self.row["next_attempt_at"]
        return at


def step_rows(run_id: str, rule_id: str, event_id: str, actions: Iterable[CompiledAction], now: datetime,
              parent_id: str | None = None) -> list[NewStep]:
    """Rows for ``actions`` and, recursively, their fallbacks; all ``pending``.

    Plain rows inserted with one executemany: building ORM objects for every
    step was most of the planner's time.
    """
    created = []
    for position, action in enumerate(actions):
        step_id = new_id()
        created.append(NewStep(step_id, {
            "id": step_id, "run_id": run_id, "position": position, "step_key": action.key,
            "action": action.uses, "fallback_of": parent_id, "params": {}, "output": None,
            "status": StepStatus.PENDING, "attempts": 0, "max_attempts": action.retry.attempts,
            "idempotency_key": idempotency_key(rule_id, event_id, action.key),
            "last_error": None, "error_code": None, "not_before": None, "hold_reason": None,
            "next_attempt_at": None, "lease_until": None,
            "created_at": now, "queued_at": None, "started_at": None, "finished_at": None,
        }))
        created.extend(step_rows(run_id, rule_id, event_id, action.fallback, now, step_id))
    return created


def queue_new_step(step: NewStep, now: datetime, not_before: datetime | None = None) -> None:
    step.row.update(status=StepStatus.QUEUED, queued_at=now, next_attempt_at=not_before)


def insert_steps(session: Session, steps: list[NewStep]) -> None:
    """Insert the planned steps (their runs are already in: the foreign keys point at them)."""
    if steps:
        insert_rows(session, RuleStep.__table__, [step.row for step in steps])


@dataclass(frozen=True)
class NextMove:
    """What happens to the run after a step finished."""

    queue: RuleStep | None = None  # the step to run next
    run_status: RunStatus | None = None  # set when the run is over


def queue_step(step: RuleStep, now: datetime, not_before: datetime | None = None) -> None:
    step.status = check_step(step.status, StepStatus.QUEUED)
    step.queued_at = now
    step.next_attempt_at = not_before


class StepTree:
    """Moves runs along their step trees as steps finish; the rule set says what each step is."""

    def __init__(self, rules: Callable[[], RuleSet]) -> None:
        self.rules = rules
        # run id -> rule id of the runs this process claimed steps of (a bounded cache: saves a query)
        self._rule_ids = _RuleIds()

    def remember(self, run_id: str, rule_id: str) -> None:
        self._rule_ids[run_id] = rule_id

    def action(self, rule_id: str, key: str | None) -> CompiledAction | None:
        rule = self.rules().by_id.get(rule_id)
        return find_action(rule.actions, key) if rule else None

    def outputs_so_far(self, session: Session, run_id: str) -> dict[str, dict[str, Any]]:
        """``steps.<id>`` for the templates of later steps: outputs of succeeded steps."""
        rows = session.exec(select(RuleStep).where(RuleStep.run_id == run_id,
                                                   RuleStep.status == StepStatus.SUCCEEDED))
        return {row.step_key: dict(row.output or {}) for row in rows if row.step_key}

    # --- success --------------------------------------------------------------------------------

    def record_success(self, tx: Transaction, claimed: Any, status: StepStatus, params: dict[str, Any],
                       outputs: dict[str, Any], now: datetime, reason: str | None = None) -> str:
        session = tx.session
        step = finish_step(session, claimed.id, claimed.attempts, status, now, params, outputs)
        if step is None:  # the lease lapsed and the step was taken back: the newer claim records
            return session.get_one(RuleStep, claimed.id, populate_existing=True).status
        if reason is not None:  # a skip with a reason (a hold longer than max_hold): say why
            session.execute(sa.update(RuleStep).where(col(RuleStep.id) == step.id)
                            .values(hold_reason=mask_text(reason)))
        log.info("step_" + status, action=step.action, attempts=step.attempts,
                 **({"reason": reason} if reason else {}))
        # run-ending plain successes take record_plain_successes; this is every other success
        with session.no_autoflush:
            move = NextMove(run_status=RunStatus.SUCCEEDED) if self._ends_run(step) else \
                self._after_success(session, step, now)
            self._move_on(tx, step, move, now)
        return status

    def record_plain_successes(self, conn: sa.Connection,
                               done: list[tuple[Any, StepStatus, dict[str, Any], dict[str, Any]]],
                               now: datetime) -> dict[str, str]:
        """Successes that end their runs plainly: steps and runs finished in one statement, however many.

        Returns each step's new status; a step whose claim is no longer ours is left out (it is
        then recorded the ordinary way, which reads what the newer claim recorded).
        """
        if not done:
            return {}
        ours = finish_ending_steps(conn, [(step.id, step.attempts, status, params, outputs)
                                          for step, status, params, outputs in done], now)
        for step, status, *_ in done:
            if step.id in ours:
                # named here: the recorder's thread has no step bound to its log context
                log.info("step_" + status, step_id=step.id, run_id=step.run_id, rule_id=step.rule_id,
                         event_id=step.event_id, action=step.action)
        return {step.id: status for step, status, *_ in done if step.id in ours}

    def ends_run_plainly(self, step: Any) -> bool:
        """Its success ends a run that needs nothing more than one UPDATE: the fast path.

        The rule's last top-level action, no fallbacks left pending, no ``mode: queued``
        run waiting, no rule listening to ``run.completed``.
        """
        rule = self.rules().by_id.get(self._rule_ids.get(step.run_id, ""))
        return (rule is not None and self._ends_run(step) and not rule.has_fallbacks
                and rule.rule.mode != "queued" and not self.rules().matcher.rules_for(RUN_COMPLETED))

    def _ends_run(self, step: Any) -> bool:
        """The rule's last top-level action: nothing follows, no query needed to know it."""
        if step.fallback_of is not None:
            return False
        rule = self.rules().by_id.get(self._rule_ids.get(step.run_id, ""))
        return rule is not None and rule.actions[-1].key == step.step_key and \
            len(rule.actions) == step.position + 1

    def _after_success(self, session: Session, step: Any, now: datetime) -> NextMove:
        sibling = _next_sibling(session, step)
        if sibling is not None:
            return NextMove(queue=sibling)
        if step.fallback_of is None:
            return NextMove(run_status=RunStatus.SUCCEEDED)
        # The fallback chain finished: it stands in for the failed action, whose chain continues.
        parent = _parent(session, step)
        _handled(session, parent.id, step.id, now)
        return self._after_success(session, parent, now)

    # --- failure --------------------------------------------------------------------------------

    def record_failure(self, tx: Transaction, step_id: str, attempt: int, error: ConnectorError,
                       now: datetime, params: dict[str, Any] | None = None) -> str:
        step = tx.session.get(RuleStep, step_id, populate_existing=True)
        if step is None or step.status != StepStatus.RUNNING or step.attempts != attempt:
            return step.status if step else StepStatus.DEAD  # not our claim any more
        if params:  # what this attempt was called with (masked): the dead letter copies it
            step.params = params
        step.last_error = mask_error(error)[:2000]
        step.error_code = getattr(error, "code", None) or ("transient" if isinstance(error, TransientError)
                                                           else None)
        step.lease_until = None
        if isinstance(error, TransientError) and step.attempts < step.max_attempts:
            return self._retry_later(tx, step, error, now)
        return self.kill(tx, step, now)

    def _retry_later(self, tx: Transaction, step: RuleStep, error: TransientError, now: datetime) -> str:
        action = self._action_of(tx.session, step)
        policy = action.retry if action else None
        wait = backoff(policy, step.attempts, error.retry_after) if policy else None
        queue_step(step, now, now + wait if wait else now)
        log.warning("step_retry", step_id=step.id, run_id=step.run_id, action=step.action,
                    attempts=step.attempts, error=step.last_error,
                    retry_in=wait.total_seconds() if wait else 0)
        tx.send_after_commit([step])
        return StepStatus.QUEUED

    def kill(self, tx: Transaction, step: RuleStep, now: datetime) -> str:
        """The step failed for good: dead letter, ``action.failed``, then its fallback or the run ends."""
        session = tx.session
        run = session.get_one(RuleRun, step.run_id)
        step.status, step.finished_at = check_step(step.status, StepStatus.DEAD), now
        session.add(DeadLetter(step_id=step.id, rule_id=run.rule_id, event_id=run.event_id,
                               action=step.action, params=step.params, error=step.last_error or "failed",
                               error_code=step.error_code, attempts=step.attempts))
        log.error("step_dead", step_id=step.id, run_id=run.id, rule_id=run.rule_id, action=step.action,
                  attempts=step.attempts, error=step.last_error, error_code=step.error_code)
        if not self._is_followup(session, run):
            action_failed(session, run, step, now)
        self._move_on(tx, step, _after_death(session, step), now)
        return StepStatus.DEAD

    def delivery_failed(self, tx: Transaction, step_id: str, error_code: str, message: str,
                        now: datetime) -> None:
        """A provider said, after the fact, that a sent message failed: the step dies now."""
        step = tx.session.get(RuleStep, step_id)
        if step is None or step.status == StepStatus.DEAD:
            return
        step.last_error, step.error_code = mask_text(message)[:2000], error_code
        self.kill(tx, step, now)

    # --- holds ----------------------------------------------------------------------------------

    def hold(self, tx: Transaction, claimed: Any, until: datetime, reason: str, now: datetime) -> str:
        """Not yet (delay_until, quiet hours): queued again until ``until``; the claim is not an attempt."""
        step = tx.session.get(RuleStep, claimed.id, populate_existing=True)
        if step is None or step.status != StepStatus.RUNNING or step.attempts != claimed.attempts:
            return step.status if step else StepStatus.DEAD  # not our claim any more
        queue_step(step, now, until)
        step.attempts, step.lease_until, step.started_at = step.attempts - 1, None, None
        step.not_before, step.hold_reason = until, mask_text(reason)[:300]
        log.info("step_held", step_id=step.id, run_id=step.run_id, action=step.action,
                 until=until.isoformat(), reason=reason)
        tx.send_after_commit([step])
        return StepStatus.QUEUED

    def withdraw(self, tx: Transaction, claimed: Any, reason: str, now: datetime) -> str:
        """A hold ended and the rule's condition no longer holds: the step and the run end skipped."""
        session = tx.session
        step = finish_step(session, claimed.id, claimed.attempts, StepStatus.SKIPPED, now, {}, {})
        if step is None:
            return session.get_one(RuleStep, claimed.id, populate_existing=True).status
        run = session.get_one(RuleRun, step.run_id, populate_existing=True)
        run.status = check_run(run.status, RunStatus.SKIPPED)
        run.skip_reason, run.finished_at = mask_text(reason)[:500], now
        session.flush()
        _skip_leftovers(session, run.id, now)
        log.info("run_skipped", run_id=run.id, reason=reason)
        rule = self.rules().by_id.get(run.rule_id)
        if rule is None or rule.rule.mode == "queued":
            tx.send_after_commit(_release_waiting(session, run.rule_id, now))
        return StepStatus.SKIPPED

    # --- moving on ------------------------------------------------------------------------------

    def _move_on(self, tx: Transaction, step: Any, move: NextMove, now: datetime) -> None:
        session = tx.session
        if move.queue is not None and move.queue.status != StepStatus.PENDING:
            return  # the chain already moved past it (a dead letter retried late)
        if move.queue is not None:
            action = self._action_of(session, move.queue)
            delay = action.delay if action else None
            queue_step(move.queue, now, now + delay if delay else None)
            tx.send_after_commit([move.queue])
        if move.run_status is not None:
            self._finish_run(tx, step.run_id, move.run_status, now)

    def _finish_run(self, tx: Transaction, run_id: str, status: RunStatus, now: datetime) -> None:
        session = tx.session
        session.flush()
        finish_run(session, run_id, status, now)
        rule_id = self._rule_ids.get(run_id) or session.get_one(RuleRun, run_id).rule_id
        rule = self.rules().by_id.get(rule_id)
        if rule is None or rule.has_fallbacks or status != RunStatus.SUCCEEDED:
            _skip_leftovers(session, run_id, now)  # only fallback steps can be left pending
        log.info("run_" + status)
        if self.rules().matcher.rules_for(RUN_COMPLETED):
            run = session.get_one(RuleRun, run_id, populate_existing=True)
            if not self._is_followup(session, run):
                run_completed(session, run, now)
        if rule is None or rule.rule.mode == "queued":
            tx.send_after_commit(_release_waiting(session, rule_id, now))

    def _is_followup(self, session: Session, run: RuleRun) -> bool:
        row = session.get(EventRow, run.event_id) if run.event_id else None
        return row is not None and row.type in FOLLOWUP_TYPES

    def _action_of(self, session: Session, step: RuleStep) -> CompiledAction | None:
        rule_id = self._rule_ids.get(step.run_id) or session.get_one(RuleRun, step.run_id).rule_id
        return self.action(rule_id, step.step_key)


def _after_death(session: Session, step: Any) -> NextMove:
    first_fallback = session.exec(
        select(RuleStep).where(col(RuleStep.fallback_of) == step.id).order_by(col(RuleStep.position))
    ).first()
    if first_fallback is not None:
        return NextMove(queue=first_fallback)
    # Fallbacks are a sequence, not alternatives: a dead step without one ends the run.
    return NextMove(run_status=RunStatus.FAILED)


def _handled(session: Session, dead_step_id: str, fallback_step_id: str, now: datetime) -> None:
    """The dead letter of a step whose fallback chain succeeded is handled: it is no longer open."""
    session.execute(sa.update(DeadLetter).where(col(DeadLetter.step_id) == dead_step_id,
                                                col(DeadLetter.resolved_at).is_(None))
                    .values(resolved_at=now, resolution="handled", resolved_by="fallback",
                            handled_by=fallback_step_id))


def _release_waiting(session: Session, rule_id: str, now: datetime) -> list[RuleStep]:
    """``mode: queued``: the oldest run waiting for this rule's active run starts now."""
    session.flush()  # a batch may have released a run already: the query must see it
    waiting = session.execute(
        sa.select(RuleRun).where(col(RuleRun.rule_id) == rule_id, col(RuleRun.status) == RunStatus.HELD,
                                 col(RuleRun.held_until).is_(None))
        .order_by(col(RuleRun.created_at)).limit(1)
    ).scalar_one_or_none()
    if waiting is None:
        return []
    first = session.execute(
        sa.select(RuleStep).where(RuleStep.run_id == waiting.id, col(RuleStep.fallback_of).is_(None))
        .order_by(col(RuleStep.position)).limit(1)
    ).scalar_one()
    waiting.status = RunStatus.PLANNED
    queue_step(first, now)
    return [first]


def _skip_leftovers(session: Session, run_id: str, now: datetime) -> None:
    """Steps a finished run never reached are skipped, not left pending forever."""
    for step in session.exec(select(RuleStep).where(RuleStep.run_id == run_id,
                                                    RuleStep.status == StepStatus.PENDING)):
        step.status = check_step(step.status, StepStatus.SKIPPED)
        step.finished_at = now


def _next_sibling(session: Session, step: Any) -> RuleStep | None:
    return session.exec(
        select(RuleStep).where(RuleStep.run_id == step.run_id,
                               RuleStep.fallback_of == step.fallback_of if step.fallback_of
                               else col(RuleStep.fallback_of).is_(None),
                               RuleStep.position == step.position + 1)
    ).first()


def _parent(session: Session, step: Any) -> RuleStep:
    parent = session.get(RuleStep, step.fallback_of)
    if parent is None:
        raise LookupError(f"step {step.id} names a missing parent {step.fallback_of}")
    return parent


def find_action(actions: tuple[CompiledAction, ...], key: str | None) -> CompiledAction | None:
    for action in actions:
        if action.key == key:
            return action
        found = find_action(action.fallback, key)
        if found is not None:
            return found
    return None


class _RuleIds(dict[str, str]):
    """A small cache of run id -> rule id; forgets its oldest half when full."""

    LIMIT = 50_000

    def __setitem__(self, key: str, value: str) -> None:
        if len(self) >= self.LIMIT:
            for old in list(self)[: self.LIMIT // 2]:
                del self[old]
        super().__setitem__(key, value)
