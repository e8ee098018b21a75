"""Running one step: claim it, render it, call the connector, record what happened.

The claim and the record are two short transactions; the connector call sits
between them, outside any transaction. If the process dies in between, the
step stays ``running`` until the reaper queues it again, and the connector's
idempotency key keeps the effect from happening twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
import structlog
from pydantic import ValidationError
from sqlmodel import Session

from connectors.base import ActionCall, Connector
from engine.language.conditions import ConditionEvaluationError
from engine.language.context import EvaluationContext
from engine.language.events import Event
from engine.language.ruleset import CompiledAction, CompiledRule, RuleSet
from engine.language.templating import TemplateRenderError, TemplateStore
from engine.runtime.followups import FOLLOWUP_TYPES, RUN_COMPLETED, action_failed, run_completed
from engine.runtime.retrying import backoff
from engine.runtime.steps import (
    NextMove,
    after_death,
    after_success,
    outputs_so_far,
    queue_step,
    skip_leftovers,
)
from errors import ConnectorError, PermanentError, TransientError
from store.models.events import Event as EventRow
from store.models.runs import DeadLetter, RuleRun, RuleStep
from store.types import utcnow

log = structlog.get_logger("despacho.executor")


_STEPS = RuleStep.__table__


@dataclass
class Claim:
    """A step just claimed: plain rows of the step and its run (ids, keys), the event, outputs so far."""

    step: Any
    run: Any
    event: Event
    steps: dict[str, dict]


@dataclass
class Recorded:
    """What a transaction decided: its steps to enqueue once it commits."""

    status: str
    queued: list[RuleStep] = field(default_factory=list)


Transaction = Callable[[], Any]  # a context manager yielding a Session that commits on exit


@dataclass
class Executor:
    rules: Callable[[], RuleSet]
    connectors: dict[str, Connector]
    templates: TemplateStore
    config: dict[str, Any]
    clock: Callable[[], datetime] = utcnow
    # run id -> rule id of the runs this process claimed steps of (a bounded cache: saves a query)
    _rule_ids: _RuleIds = field(default_factory=lambda: _RuleIds())

    # --- claim ------------------------------------------------------------------------------------

    def claim(self, session: Session, step_id: str) -> Claim | None:
        """Mark a due, queued step ``running``; ``None`` when another delivery got it first."""
        claims = self.claim_many(session, [step_id])
        return claims[0] if claims else None

    def claim_many(self, session: Session, step_ids: list[str]) -> list[Claim]:
        """Claim the due, queued steps among ``step_ids``; the others were not ours to run."""
        now = self.clock()
        # One core UPDATE ... RETURNING claims the rows and reads what running them needs.
        steps = session.execute(
            sa.update(_STEPS)
            .where(_STEPS.c.id.in_(step_ids), _STEPS.c.status == "queued",
                   sa.or_(_STEPS.c.next_attempt_at.is_(None), _STEPS.c.next_attempt_at <= now))
            .values(status="running", attempts=_STEPS.c.attempts + 1, started_at=now)
            .returning(_STEPS.c.id, _STEPS.c.run_id, _STEPS.c.position, _STEPS.c.fallback_of,
                       _STEPS.c.step_key, _STEPS.c.action, _STEPS.c.attempts, _STEPS.c.idempotency_key)
        ).all()
        if not steps:
            return []
        runs, events = RuleRun.__table__, EventRow.__table__
        rows = session.execute(
            sa.select(runs.c.id, runs.c.rule_id, runs.c.status, events.c.type, events.c.id.label("event_id"),
                      events.c.occurred_at, events.c.source, events.c.payload)
            .join(events, events.c.id == runs.c.event_id)
            .where(runs.c.id.in_({step.run_id for step in steps}))
        ).all()
        by_run = {row.id: row for row in rows}
        starting = [row.id for row in rows if row.status in ("planned", "held")]
        if starting:  # one core UPDATE: no ORM flush (and its checks) for a status change
            session.execute(sa.update(runs).where(runs.c.id.in_(starting))
                            .values(status="running", started_at=now))
        return [self._claim(session, step, by_run[step.run_id]) for step in steps]

    def _claim(self, session: Session, step: Any, row: Any) -> Claim:
        self._rule_ids[row.id] = row.rule_id
        event = Event(type=row.type, id=row.event_id, at=row.occurred_at, source=row.source, data=row.payload)
        action = self._lookup(row.rule_id, step.step_key)
        reads_steps = action is None or action.reads_steps
        return Claim(step, row, event, outputs_so_far(session, row.id) if reads_steps else {})

    def _lookup(self, rule_id: str, key: str | None) -> CompiledAction | None:
        rule = self.rules().by_id.get(rule_id)
        return _find_action(rule.actions, key) if rule else None

    # --- perform ----------------------------------------------------------------------------------

    def perform(self, claim: Claim) -> tuple[str, dict[str, Any], dict[str, Any]]:
        """Call the connector; returns (status, rendered params, outputs). Raises ``ConnectorError``."""
        rule, action = self._definition(claim)
        context = EvaluationContext(claim.event, self.config, self.clock())
        if action.condition is not None:
            try:
                if not action.condition.holds(context.cel_with_steps(claim.steps)):
                    return "skipped", {}, {}
            except ConditionEvaluationError as exc:
                raise PermanentError(f"condition: {exc}", code="condition_error") from exc
        variables = context.for_actions(rule.id, claim.steps)
        params, call = self._call(claim, action, variables)
        connector = self.connectors[action.uses.split(".", 1)[0]]
        return "succeeded", params, connector.execute(call)

    def _definition(self, claim: Claim) -> tuple[CompiledRule, CompiledAction]:
        rule = self.rules().by_id.get(claim.run.rule_id)
        action = _find_action(rule.actions, claim.step.step_key) if rule else None
        if rule is None or action is None or action.uses != claim.step.action:
            raise PermanentError(f"rule '{claim.run.rule_id}' no longer has action "
                                 f"'{claim.step.step_key}' ({claim.step.action})", code="rule_changed")
        return rule, action

    def _call(self, claim: Claim, action: CompiledAction, variables: dict[str, Any]
              ) -> tuple[dict[str, Any], ActionCall]:
        try:
            rendered = action.params.render(variables)
            params = action.spec.params.model_validate(rendered)
            template = getattr(params, "template", None)
            message = (self.templates.render(action.spec.channel, template, variables)
                       if action.spec.channel and template else None)
        except TemplateRenderError as exc:
            raise PermanentError(str(exc), code="render_error") from exc
        except ValidationError as exc:
            raise PermanentError(f"params after rendering: {exc.errors(include_url=False)[0]['msg']}",
                                 code="invalid_params") from exc
        call = ActionCall(action=action.uses.split(".", 1)[1], params=params,
                          idempotency_key=claim.step.idempotency_key, message=message,
                          step_id=claim.step.id, rule_id=claim.run.rule_id, event_id=claim.event.id)
        return rendered, call

    # --- record -----------------------------------------------------------------------------------

    def record_success(self, session: Session, step_id: str, status: str, params: dict[str, Any],
                       outputs: dict[str, Any]) -> Recorded:
        now = self.clock()
        table = RuleStep.__table__
        # A core UPDATE ... RETURNING of the few columns moving on needs: the hottest statement.
        step = session.execute(
            sa.update(table).where(table.c.id == step_id, table.c.status == "running")
            .values(status=status, finished_at=now, params=params, output=outputs, last_error=None,
                    error_code=None)
            .returning(table.c.id, table.c.run_id, table.c.position, table.c.fallback_of,
                       table.c.step_key, table.c.action, table.c.attempts)
        ).one_or_none()
        if step is None:  # the reaper took it back meanwhile: its record wins
            return Recorded(session.get(RuleStep, step_id).status)
        log.info("step_" + status, action=step.action, attempts=step.attempts)
        with session.no_autoflush:
            move = NextMove(run_status="succeeded") if self._ends_run(step) else after_success(session, step)
            return self._move_on(session, step, move, now, status)

    def closes_run_plainly(self, claim: Claim) -> bool:
        """Its success ends a run that needs nothing more than two UPDATEs: the batch fast path.

        The rule's last top-level action, no fallbacks left pending, no ``mode: queued``
        run waiting, no rule listening to ``run.completed``.
        """
        rule = self.rules().by_id.get(claim.run.rule_id)
        return (rule is not None and self._ends_run(claim.step) and not rule.has_fallbacks
                and rule.rule.mode != "queued" and not self.rules().matcher.rules_for(RUN_COMPLETED))

    def record_closing_successes(self, session: Session,
                                 closings: list[tuple[Claim, str, dict[str, Any], dict[str, Any]]]) -> None:
        """Record many run-ending successes with two statements instead of a few per step."""
        now = self.clock()
        table = RuleStep.__table__
        session.execute(
            sa.update(table).where(table.c.id == sa.bindparam("step_id"), table.c.status == "running")
            .values(status=sa.bindparam("new_status"), finished_at=now, params=sa.bindparam("new_params"),
                    output=sa.bindparam("new_output"), last_error=None, error_code=None),
            [{"step_id": claim.step.id, "new_status": status, "new_params": params, "new_output": outputs}
             for claim, status, params, outputs in closings],
        )
        # A step the reaper took back meanwhile stays ``queued``: its run is not over.
        recorded = set(session.execute(
            sa.select(table.c.run_id).where(table.c.id.in_([c.step.id for c, *_ in closings]),
                                            table.c.status.in_(("succeeded", "skipped")))
        ).scalars())
        session.execute(sa.update(RuleRun.__table__).where(RuleRun.__table__.c.id.in_(recorded))
                        .values(status="succeeded", finished_at=now))
        for claim, status, *_ in closings:
            if claim.run.id in recorded:
                log.info("step_" + status, step_id=claim.step.id, run_id=claim.run.id,
                         rule_id=claim.run.rule_id, event_id=claim.event.id, action=claim.step.action)
                log.info("run_succeeded", run_id=claim.run.id, rule_id=claim.run.rule_id,
                         event_id=claim.event.id)

    def _ends_run(self, step: RuleStep) -> bool:
        """The rule's last top-level action: nothing follows, no query needed to know it."""
        if step.fallback_of is not None:
            return False
        rule = self.rules().by_id.get(self._rule_ids.get(step.run_id, ""))
        return rule is not None and rule.actions[-1].key == step.step_key and \
            len(rule.actions) == step.position + 1

    def record_failure(self, session: Session, step_id: str, error: ConnectorError) -> Recorded:
        now = self.clock()
        step = session.get(RuleStep, step_id, populate_existing=True)
        if step.status != "running":
            return Recorded(step.status)
        step.last_error = str(error)[:2000]
        step.error_code = getattr(error, "code", None) or ("transient" if isinstance(error, TransientError)
                                                           else None)
        if isinstance(error, TransientError) and step.attempts < step.max_attempts:
            return self._retry_later(session, step, error, now)
        return self.kill(session, step, now)

    def _retry_later(self, session: Session, step: RuleStep, error: TransientError, now: datetime
                     ) -> Recorded:
        rule = self.rules().by_id.get(self._rule_id(session, step))
        action = _find_action(rule.actions, step.step_key) if rule else None
        policy = action.retry if action else None
        wait = backoff(policy, step.attempts, error.retry_after) if policy else None
        queue_step(step, now, now + wait if wait else now)
        log.warning("step_retry", step_id=step.id, run_id=step.run_id, action=step.action,
                    attempts=step.attempts, error=step.last_error,
                    retry_in=wait.total_seconds() if wait else 0)
        return Recorded("queued", [step])

    def kill(self, session: Session, step: RuleStep, now: datetime) -> Recorded:
        """The step failed for good: dead letter, ``action.failed``, then its fallback or the run ends."""
        run = session.get(RuleRun, step.run_id)
        step.status, step.finished_at = "dead", now
        session.add(DeadLetter(step_id=step.id, rule_id=run.rule_id, event_id=run.event_id,
                               action=step.action, params=step.params, error=step.last_error or "failed",
                               error_code=step.error_code, attempts=step.attempts))
        log.error("step_dead", step_id=step.id, run_id=run.id, rule_id=run.rule_id, action=step.action,
                  attempts=step.attempts, error=step.last_error, error_code=step.error_code)
        if not self._is_followup(session, run):
            action_failed(session, run, step, now)
        return self._move_on(session, step, after_death(session, step), now, "dead")

    def _move_on(self, session: Session, step: RuleStep, move, now: datetime, status: str) -> Recorded:
        recorded = Recorded(status)
        if move.queue is not None and move.queue.status != "pending":
            return recorded  # the chain already moved past it (a dead letter retried late)
        if move.queue is not None:
            action = self._action_of(session, move.queue)
            delay = action.delay if action else None
            queue_step(move.queue, now, now + delay if delay else None)
            recorded.queued.append(move.queue)
        if move.run_status is not None:
            recorded.queued.extend(self._finish_run(session, step.run_id, move.run_status, now))
        return recorded

    def _finish_run(self, session: Session, run_id: str, status: str, now: datetime) -> list[RuleStep]:
        session.execute(sa.update(RuleRun).where(RuleRun.id == run_id)
                        .values(status=status, finished_at=now).execution_options(synchronize_session=False))
        rule_id = self._rule_ids.get(run_id) or session.get(RuleRun, run_id).rule_id
        rule = self.rules().by_id.get(rule_id)
        if rule is None or rule.has_fallbacks or status != "succeeded":
            skip_leftovers(session, run_id, now)  # only fallback steps can be left pending
        log.info("run_" + status)
        if self.rules().matcher.rules_for(RUN_COMPLETED):
            run = session.get(RuleRun, run_id, populate_existing=True)
            if not self._is_followup(session, run):
                run_completed(session, run, now)
        if rule is None or rule.rule.mode == "queued":
            return self._release_waiting(session, rule_id, now)
        return []

    def _release_waiting(self, session: Session, rule_id: str, now: datetime) -> list[RuleStep]:
        """``mode: queued``: the oldest run waiting for this rule's active run starts now."""
        session.flush()  # a batch may have released a run already: the query must see it
        waiting = session.execute(
            sa.select(RuleRun).where(RuleRun.rule_id == rule_id, RuleRun.status == "held",
                                     RuleRun.held_until.is_(None))
            .order_by(RuleRun.created_at).limit(1)
        ).scalar_one_or_none()
        if waiting is None:
            return []
        first = session.execute(
            sa.select(RuleStep).where(RuleStep.run_id == waiting.id, RuleStep.fallback_of.is_(None))
            .order_by(RuleStep.position).limit(1)
        ).scalar_one()
        waiting.status = "planned"
        queue_step(first, now)
        return [first]

    def _is_followup(self, session: Session, run: RuleRun) -> bool:
        row = session.get(EventRow, run.event_id) if run.event_id else None
        return row is not None and row.type in FOLLOWUP_TYPES

    def _rule_id(self, session: Session, step: RuleStep) -> str:
        return session.get(RuleRun, step.run_id).rule_id

    def _action_of(self, session: Session, step: RuleStep) -> CompiledAction | None:
        rule = self.rules().by_id.get(self._rule_id(session, step))
        return _find_action(rule.actions, step.step_key) if rule else None


class _RuleIds(dict):
    """A small cache of run id -> rule id; forgets its oldest half when full."""

    LIMIT = 50_000

    def __setitem__(self, key: str, value: str) -> None:
        if len(self) >= self.LIMIT:
            for old in list(self)[: self.LIMIT // 2]:
                del self[old]
        super().__setitem__(key, value)


def _find_action(actions: tuple[CompiledAction, ...], key: str | None) -> CompiledAction | None:
    for action in actions:
        if action.key == key:
            return action
        found = _find_action(action.fallback, key)
        if found is not None:
            return found
    return None
