"""Follow-up events rules can react to: ``action.failed`` and ``run.completed``.

Their ids derive from the step or run, so a step recorded twice emits once.
Runs started by a follow-up event emit none themselves: a rule reacting to
``run.completed`` must not feed itself forever.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from store.eventlog import insert_event
from store.models.runs import RuleRun, RuleStep

ACTION_FAILED = "action.failed"
RUN_COMPLETED = "run.completed"
FOLLOWUP_TYPES = frozenset({ACTION_FAILED, RUN_COMPLETED})


def action_failed(session: Session, run: RuleRun, step: RuleStep, now: datetime) -> None:
    data: dict[str, Any] = {
        "rule_id": run.rule_id, "run_id": run.id, "event_id": run.event_id, "step_id": step.id,
        "action": step.action, "step": step.step_key, "error": step.last_error,
        "error_code": step.error_code, "attempts": step.attempts,
    }
    insert_event(session, f"{ACTION_FAILED}:{step.id}", ACTION_FAILED, data, occurred_at=now,
                 source="despacho")


def run_completed(session: Session, run: RuleRun, now: datetime) -> None:
    data = {"rule_id": run.rule_id, "run_id": run.id, "event_id": run.event_id, "status": run.status}
    insert_event(session, f"{RUN_COMPLETED}:{run.id}", RUN_COMPLETED, data, occurred_at=now,
                 source="despacho")
