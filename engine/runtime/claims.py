"""A step claimed to run: its plain row (with its run's rule and event), the event, the outputs so far.

The step runner claims steps by id (``store.runs.claim_with_runs``). In the embedded default the
relay also claims the due steps it plans for this process's own threads, in the transaction that
plans them (``planned_claim``; see ``engine.runtime.local.EmbeddedSteps``): the claim costs no
statement of its own and the event is not read back from the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from engine.language.events import Event
from store.run_lifecycle import RunStatus, StepStatus, check_run, check_step
from store.runs import ClaimedStep
from store.runs_sqlite import CLAIMED


@dataclass
class Claim:
    """A step just claimed: its plain row (with its run's ``rule_id``), the event, outputs so far."""

    step: Any
    event: Event
    steps: dict[str, dict[str, Any]]

    @property
    def rule_id(self) -> str:
        rule_id: str = self.step.rule_id
        return rule_id


def planned_claim(step: dict[str, Any], run: dict[str, Any], event: Event, now: datetime,
                  lease: timedelta) -> Claim:
    """Claim a step as it is planned: the new rows (still to be inserted) become ``running``.

    ``step`` is the queued first step of ``run``, both plain rows of the planner; the step takes
    its first attempt under a lease, the run starts, as ``store.runs.claim_with_runs`` does.
    """
    step.update(status=check_step(step["status"], StepStatus.RUNNING), attempts=step["attempts"] + 1,
                started_at=now, lease_until=now + lease)
    run.update(status=check_run(run["status"], RunStatus.RUNNING), started_at=now)
    values = (*(step[name] for name in CLAIMED), run["rule_id"], event.type, event.id, event.at,
              event.source, event.data)
    return Claim(ClaimedStep(*values), event, {})
