"""The step runner: claim a step → prepare and make its connector call → record the outcome.

The claim and each record are short transactions; the connector call sits
between them, outside any transaction, under the step's lease (renewed by
``Leases``). Each step's outcome goes to the recorder as soon as its call
returns and is committed while the next call runs, so a worker killed
mid-batch never holds a finished effect unrecorded behind unfinished calls
(outcomes that arrive together share a commit: ``recorder``). If the
process dies mid-call the lease lapses and the reaper queues the step again;
the connector's idempotency key keeps the effect from happening twice.

The database or the broker being away is not the action's failure: such a
step is neither retried nor killed here, it waits for its lease to lapse.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Any

import structlog

from connectors.base import ActionCall, Connector
from engine.language.calls import CallPreparationError, prepare_call
from engine.language.conditions import ConditionEvaluationError
from engine.language.context import EvaluationContext
from engine.language.events import Event
from engine.language.loops import LoopError, item_idempotency_key, prepare_calls
from engine.language.masking import mask_params
from engine.language.ruleset import CompiledAction, CompiledRule, RuleSet
from engine.language.templating import TemplateStore
from engine.runtime.claims import Claim
from engine.runtime.flags import ON, FlagBook
from engine.runtime.holds import before_call
from engine.runtime.infra import is_infrastructure_error
from engine.runtime.leases import Leases
from engine.runtime.metrics import step_recorded, timed_call
from engine.runtime.outbox import Outbox, Transaction
from engine.runtime.outcomes import Failure, Hold, Outcome, Success, Withdrawn
from engine.runtime.recorder import Pending, Recorder
from engine.runtime.steps import StepTree, find_action
from errors import ConnectorError, PermanentError, SendRefused, TransientError
from personal_data import mask_error
from store.run_lifecycle import StepStatus
from store.runs import claim_with_runs
from store.types import utcnow

log = structlog.get_logger("despacho.runner")

RECORD_TRIES = 3


class Unrecorded(Exception):
    """The database went away around a step: its lease lapses and the reaper brings it back."""


@contextmanager
def _bound(claim: Claim) -> Iterator[None]:
    """The step's ids on every log line of its call. Tokens restore what was bound before:
    ``bound_contextvars`` copies the whole context to find that, on every step."""
    tokens = structlog.contextvars.bind_contextvars(step_id=claim.step.id, run_id=claim.step.run_id,
                                                    rule_id=claim.rule_id, event_id=claim.event.id)
    try:
        yield
    finally:
        structlog.contextvars.reset_contextvars(**tokens)


class StepRunner:
    def __init__(self, outbox: Outbox, rules: Callable[[], RuleSet], connectors: dict[str, Connector],
                 templates: Callable[[], TemplateStore], config: dict[str, Any], leases: Leases,
                 clock: Callable[[], datetime] = utcnow, time_zone: str = "America/Sao_Paulo",
                 flags: FlagBook | None = None) -> None:
        self.outbox = outbox
        self.rules = rules
        self.connectors = connectors
        self.templates = templates  # those of the rule set in force (the stored ones in a degraded start)
        self.config = config
        self.leases = leases
        self.clock = clock
        self.time_zone = time_zone  # the configured zone: recipients without a usable one keep its clock
        self.flags = flags  # feature flags: a step may be switched off or shadowed (engine.runtime.flags)
        self.tree = StepTree(rules)
        self.recorder = Recorder(self._record_group)

    # --- the actor's entry ----------------------------------------------------------------------

    def run_steps(self, step_ids: list[str]) -> dict[str, str | None]:
        """Run a batch of steps; each id maps to its new status, ``None`` when it was not ours to run."""
        results: dict[str, str | None] = dict.fromkeys(step_ids)
        try:
            claims = self._claim(step_ids)
        except Exception as exc:
            if not is_infrastructure_error(exc):
                raise
            log.warning("claim_failed_database_unreachable", steps=len(step_ids), error=str(exc))
            return results  # nothing moved: the steps stay queued and the reaper sends them again
        return self._run(claims, results)

    def run_claims(self, claims: list[Claim]) -> dict[str, str | None]:
        """Run steps claimed elsewhere in this process (the embedded relay claims what it plans)."""
        results: dict[str, str | None] = {claim.step.id: None for claim in claims}
        try:
            self._load_outputs(claims)
        except Exception as exc:
            for claim in claims:  # left for their leases to lapse: the reaper queues them again
                self.leases.release(claim.step.id)
            if not is_infrastructure_error(exc):
                raise
            log.warning("outputs_unreadable_database_unreachable", steps=len(claims), error=str(exc))
            return results
        return self._run(claims, results)

    def _run(self, claims: list[Claim], results: dict[str, str | None]) -> dict[str, str | None]:
        for claim in claims:  # every claimed step is renewed until it is recorded, not just the current
            self.leases.hold(claim.step.id, claim.step.attempts)
        try:
            # each outcome goes to the recorder as its call returns; the next call does not wait for it
            recording = [(claim, pending) for claim in claims
                         if (pending := self._run_claimed(claim)) is not None]
            self._await_records(recording, results)
        finally:
            for claim in claims:  # what an unexpected error left held
                self.leases.release(claim.step.id)
        return results

    def run_step(self, step_id: str) -> str | None:
        return self.run_steps([step_id])[step_id]

    def close(self) -> None:
        """Commit the outcomes handed over and stop the recorder's thread."""
        self.recorder.close()

    def _run_claimed(self, claim: Claim) -> Pending | None:
        """Make the step's call and hand its outcome to the recorder; ``None`` when the database went away."""
        try:
            with _bound(claim):
                outcome = self._perform(claim)
        except Unrecorded as exc:
            log.warning("step_unrecorded", step_id=claim.step.id, error=str(exc.__cause__ or exc))
            self.leases.release(claim.step.id)  # left for its lease to lapse
            return None
        return self.recorder.submit(claim, outcome)

    def _await_records(self, recording: list[tuple[Claim, Pending]], results: dict[str, str | None]) -> None:
        """Wait for each record (retried while the database is away); the first other error is raised
        once every record has had its answer."""
        error: Exception | None = None
        for claim, pending in recording:
            try:
                results[claim.step.id] = status = self._recorded(claim, pending)
                step_recorded(claim.rule_id, status)
            except Unrecorded as exc:
                log.warning("step_unrecorded", step_id=claim.step.id, error=str(exc.__cause__ or exc))
            except Exception as exc:
                error = error or exc
            self.leases.release(claim.step.id)  # recorded, or left for its lease to lapse
        if error is not None:
            raise error

    def _recorded(self, claim: Claim, pending: Pending) -> str:
        for attempt in range(RECORD_TRIES):
            try:
                return pending.wait()
            except Exception as exc:
                if not is_infrastructure_error(exc):
                    raise
                if attempt + 1 == RECORD_TRIES:
                    raise Unrecorded("the outcome could not be recorded") from exc
                time.sleep(0.5 * 2 ** attempt)
                pending = self.recorder.submit(claim, pending.outcome)
        raise AssertionError("unreachable")

    # --- claim ----------------------------------------------------------------------------------

    def _claim(self, step_ids: list[str]) -> list[Claim]:
        with self.outbox.bookkeeping() as conn:
            rows = claim_with_runs(conn, step_ids, self.clock(), self.leases.lease)
        claims = [Claim(row, Event(type=row.type, id=row.event_id, at=row.occurred_at, source=row.source,
                                   data=row.payload), {}) for row in rows]
        self._load_outputs(claims)
        return claims

    def _load_outputs(self, claims: list[Claim]) -> None:
        """``steps.<id>`` of the claimed steps whose action reads what earlier steps returned."""
        needs_outputs = [claim for claim in claims if self._reads_steps(claim.step)]
        if needs_outputs:
            with self.outbox.transaction(durable=False) as tx:
                for claim in needs_outputs:
                    claim.steps.update(self.tree.outputs_so_far(tx.session, claim.step.run_id))

    def _reads_steps(self, row: Any) -> bool:
        self.tree.remember(row.run_id, row.rule_id)
        action = self.tree.action(row.rule_id, row.step_key)
        return action is None or action.reads_steps

    # --- perform --------------------------------------------------------------------------------

    def _perform(self, claim: Claim) -> Outcome:
        rendered: dict[str, Any] = {}
        try:
            return self._call(claim, rendered)
        except SendRefused as exc:  # the law or the recipient forbids it: skipped, no retry, no fallback
            return Success(StepStatus.SKIPPED, mask_params(rendered), {"refused": exc.code},
                           f"refused ({exc.code}): {mask_error(exc)}")
        except ConnectorError as exc:
            return Failure(exc, mask_params(rendered))
        except Exception as exc:
            if is_infrastructure_error(exc):
                raise Unrecorded("the database went away during the call") from exc
            # a connector bug is recorded and retried, not lost
            log.exception("step_unexpected_error", action=claim.step.action)
            return Failure(TransientError(f"unexpected {type(exc).__name__}: {exc}"), mask_params(rendered))

    def _call(self, claim: Claim, rendered: dict[str, Any]) -> Outcome:
        """Call the connector, or hold the step. Raises ``ConnectorError`` for the action's own failures;
        ``rendered`` receives the params once they are rendered."""
        rule, action = self._definition(claim)
        context = EvaluationContext(claim.event, self.config, self.clock())
        instead = before_call(claim.step, rule, action, context, claim.steps, self.time_zone)
        if instead is not None:
            return instead
        flagged = self.flags.decide(rule.id, action.uses, claim.event.data) if self.flags is not None else ON
        if flagged.state == "off":
            return Success(StepStatus.SKIPPED, {}, {}, flagged.reason)
        shadow = flagged.reason if flagged.state == "shadow" else None
        if action.loop is not None:  # its ``if:`` is checked per item
            return self._call_each(claim, action, context.for_actions(rule.id, claim.steps), shadow)
        if action.condition is not None:
            try:
                if not action.condition.holds(context.cel_with_steps(claim.steps)):
                    return Success(StepStatus.SKIPPED, {}, {})
            except ConditionEvaluationError as exc:
                raise PermanentError(f"condition: {exc}", code=exc.code) from exc
        try:
            prepared = prepare_call(action, context.for_actions(rule.id, claim.steps), self.templates())
        except CallPreparationError as exc:
            raise PermanentError(str(exc), code=exc.code) from exc
        rendered.update(prepared.rendered)
        if shadow is not None:  # planned and traced, not made
            connector = self.connectors[prepared.connector]
            plan = connector.plan(prepared.action, prepared.params, prepared.message)
            return Success(StepStatus.SUCCEEDED, mask_params(prepared.rendered),
                           {"shadow": True, "plan": plan}, shadow)
        call = ActionCall(action=prepared.action, params=prepared.params,
                          idempotency_key=claim.step.idempotency_key, message=prepared.message,
                          step_id=claim.step.id, rule_id=claim.rule_id, event_id=claim.event.id,
                          files=prepared.files, event_at=claim.event.at)
        execute = partial(self.connectors[prepared.connector].execute, call)
        outputs = timed_call(prepared.connector, prepared.action, execute)
        return Success(StepStatus.SUCCEEDED, mask_params(prepared.rendered), outputs)

    def _call_each(self, claim: Claim, action: CompiledAction, variables: dict[str, Any],
                   shadow: str | None = None) -> Success:
        """A for_each step: every call prepared first, then made in order, each under its own key.

        A transient failure stops the step at once (its retry finds the calls made so far done); a
        call that fails for good does not keep the others from being made, and fails the step after.
        """
        try:
            loop = prepare_calls(action, variables, self.templates())
        except (CallPreparationError, LoopError) as exc:
            raise PermanentError(str(exc), code=exc.code) from exc
        outputs: list[dict[str, Any]] = []
        refused: list[tuple[str, PermanentError]] = []
        if shadow is not None:
            plans = [self.connectors[p.connector].plan(p.action, p.params, p.message) for _, p in loop.calls]
            planned = {"shadow": True, "items": plans, "count": len(plans), "skipped": len(loop.skipped)}
            rendered = {"items": [p.rendered for _, p in loop.calls]}
            return Success(StepStatus.SUCCEEDED, rendered, planned, shadow)
        for unit, prepared in loop.calls:
            key = item_idempotency_key(claim.step.idempotency_key, unit.key)
            call = ActionCall(action=prepared.action, params=prepared.params, idempotency_key=key,
                              message=prepared.message, step_id=claim.step.id, rule_id=claim.rule_id,
                              event_id=claim.event.id, files=prepared.files, item_key=unit.key,
                              event_at=claim.event.at)
            try:
                outputs.append(timed_call(prepared.connector, prepared.action,
                                          partial(self.connectors[prepared.connector].execute, call)))
            except SendRefused as exc:  # this item is not sent; the others are
                outputs.append({"refused": exc.code, "reason": mask_error(exc)})
            except PermanentError as exc:
                refused.append((unit.key, exc))
        if refused:
            item, first = refused[0]
            raise PermanentError(f"{len(refused)} of {len(loop.calls)} calls failed for good; "
                                 f"item {item}: {first}", code=first.code)
        rendered = {"items": [prepared.rendered for _, prepared in loop.calls]}
        # the names of loops.LOOP_OUTPUTS
        return Success(StepStatus.SUCCEEDED, rendered,
                       {"items": outputs, "count": len(outputs), "skipped": len(loop.skipped)})

    def _definition(self, claim: Claim) -> tuple[CompiledRule, CompiledAction]:
        rule = self.rules().by_id.get(claim.rule_id)
        action = find_action(rule.actions, claim.step.step_key) if rule else None
        if rule is None or action is None or action.uses != claim.step.action:
            raise PermanentError(f"rule '{claim.rule_id}' no longer has action "
                                 f"'{claim.step.step_key}' ({claim.step.action})", code="rule_changed")
        return rule, action

    # --- record ---------------------------------------------------------------------------------

    def _record_group(self, group: list[tuple[Claim, Outcome]]) -> list[str]:
        """Outcomes of steps that finished together; run-ending successes take one statement in all."""
        now = self.clock()
        plain = [(claim.step, outcome) for claim, outcome in group
                 if isinstance(outcome, Success) and outcome.reason is None
                 and self.tree.ends_run_plainly(claim.step)]
        statuses: dict[str, str] = {}
        if plain:
            with self.outbox.bookkeeping() as conn:
                done = [(step, o.status, o.params, o.outputs) for step, o in plain if isinstance(o, Success)]
                statuses = self.tree.record_plain_successes(conn, done, now)
        rest = [(claim, outcome) for claim, outcome in group if claim.step.id not in statuses]
        if rest:
            with self.outbox.transaction(durable=False) as tx:
                for claim, outcome in rest:
                    with _bound(claim):  # on the recorder's thread: its log lines name the step too
                        statuses[claim.step.id] = self._record(tx, claim, outcome)
        return [statuses[claim.step.id] for claim, _ in group]

    def _record(self, tx: Transaction, claim: Claim, outcome: Outcome) -> str:
        now = self.clock()
        if isinstance(outcome, Failure):
            return self.tree.record_failure(tx, claim.step.id, claim.step.attempts, outcome.error, now,
                                            outcome.params)
        if isinstance(outcome, Hold):
            return self.tree.hold(tx, claim.step, outcome.until, outcome.reason, now)
        if isinstance(outcome, Withdrawn):
            return self.tree.withdraw(tx, claim.step, outcome.reason, now)
        return self.tree.record_success(tx, claim.step, outcome.status, outcome.params, outcome.outputs, now,
                                        outcome.reason)

    # --- after the fact -------------------------------------------------------------------------

    def delivery_failed(self, tx: Transaction, step_id: str, error_code: str, message: str) -> None:
        """A provider said, after the fact, that a sent message failed: its fallback runs now."""
        self.tree.delivery_failed(tx, step_id, error_code, message, self.clock())

