"""The life cycle of rule runs and their steps: which status may follow which.

```
 step:  pending ──► queued ──► running ──► succeeded
          │           ▲  │        │  │        │ (delivery failed later)
          │           │  │        │  └──► dead ◄──┘ ──► queued   (a dead letter retried)
          │           └──┼────────┘            (retry later, or lease lapsed: taken back)
          └──► skipped ◄─┘                     (the run ended before it was reached)

 run:   planned ──► running ──► succeeded | failed
          │  ▲                    │ (a dead letter retried reopens it)
          ▼  │                    ▼
         held                   running
        planned | held ──► skipped   (nothing ran: condition false, dedupe, throttle)
        running ──► skipped          (a hold ended and the condition no longer held: recheck)
```

The SQL that moves rows (``store.runs``) takes its ``WHERE status IN (...)``
guards from these tables, so a row can only move along an edge drawn here;
Python code that moves a loaded row calls ``check_step``/``check_run``,
which raise ``IllegalTransition``.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import TypeVar

from store.errors import IllegalTransition


class StepStatus(StrEnum):
    PENDING = "pending"      # planned, waiting for the steps before it
    QUEUED = "queued"        # due (or due at ``next_attempt_at``); a message may be on its way
    RUNNING = "running"      # claimed by a worker, which holds its lease
    SUCCEEDED = "succeeded"
    DEAD = "dead"            # failed for good: a dead letter, then its fallback
    SKIPPED = "skipped"      # its ``if:`` was false, or the run ended before reaching it


class RunStatus(StrEnum):
    PLANNED = "planned"
    HELD = "held"            # quiet hours, or waiting for the rule's active run (``mode: queued``)
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    SKIPPED = "skipped"


STEP_TRANSITIONS: Mapping[StepStatus, frozenset[StepStatus]] = {
    StepStatus.PENDING: frozenset({StepStatus.QUEUED, StepStatus.SKIPPED}),
    StepStatus.QUEUED: frozenset({StepStatus.RUNNING, StepStatus.QUEUED, StepStatus.SKIPPED,
                                  StepStatus.DEAD}),
    StepStatus.RUNNING: frozenset({StepStatus.SUCCEEDED, StepStatus.SKIPPED, StepStatus.DEAD,
                                   StepStatus.QUEUED}),
    StepStatus.SUCCEEDED: frozenset({StepStatus.DEAD}),  # the provider reported the delivery failed
    StepStatus.DEAD: frozenset({StepStatus.QUEUED}),
    StepStatus.SKIPPED: frozenset({StepStatus.PENDING}),  # a retried dead letter reopens its run
}

RUN_TRANSITIONS: Mapping[RunStatus, frozenset[RunStatus]] = {
    RunStatus.PLANNED: frozenset({RunStatus.RUNNING, RunStatus.HELD, RunStatus.SKIPPED,
                                  RunStatus.SUCCEEDED, RunStatus.FAILED}),
    RunStatus.HELD: frozenset({RunStatus.PLANNED, RunStatus.RUNNING, RunStatus.SKIPPED}),
    # skipped: a hold ended and the rule's condition no longer held (quiet_hours recheck)
    RunStatus.RUNNING: frozenset({RunStatus.SUCCEEDED, RunStatus.FAILED, RunStatus.SKIPPED}),
    RunStatus.SUCCEEDED: frozenset({RunStatus.RUNNING}),  # a late fallback's dead letter retried
    RunStatus.FAILED: frozenset({RunStatus.RUNNING}),     # a dead letter retried
    RunStatus.SKIPPED: frozenset(),
}

FINISHED_STEPS = frozenset({StepStatus.SUCCEEDED, StepStatus.DEAD, StepStatus.SKIPPED})
ACTIVE_RUNS = frozenset({RunStatus.PLANNED, RunStatus.RUNNING})


def step_sources(target: StepStatus) -> tuple[StepStatus, ...]:
    """The statuses a step may move to ``target`` from: the SQL guard of every step UPDATE."""
    return tuple(sorted(s for s, targets in STEP_TRANSITIONS.items() if target in targets))


def run_sources(target: RunStatus) -> tuple[RunStatus, ...]:
    return tuple(sorted(s for s, targets in RUN_TRANSITIONS.items() if target in targets))


def check_step(current: str, target: str) -> StepStatus:
    """``target`` as a status, or ``IllegalTransition`` when a step cannot move there."""
    return _check(STEP_TRANSITIONS, StepStatus, current, target)


def check_run(current: str, target: str) -> RunStatus:
    return _check(RUN_TRANSITIONS, RunStatus, current, target)


S = TypeVar("S", StepStatus, RunStatus)


def _check(table: Mapping[S, frozenset[S]], kind: type[S], current: str, target: str) -> S:
    try:
        source, goal = kind(current), kind(target)
    except ValueError:
        raise IllegalTransition(current, target, (), reason="unknown status") from None
    allowed = table[source]
    if goal not in allowed:
        raise IllegalTransition(current, target, allowed)
    return goal
