"""What one claim of a step came to, as the runner records it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from errors import ConnectorError
from store.run_lifecycle import StepStatus


@dataclass(frozen=True)
class Success:
    status: StepStatus  # succeeded, or skipped (the action's ``if:`` was false, or a hold too long)
    params: dict[str, Any]
    outputs: dict[str, Any]
    reason: str | None = None  # why a skipped step was skipped, kept as its hold_reason


@dataclass(frozen=True)
class Failure:
    """The call failed; ``params`` are what it was called with (masked), for the step and its dead letter."""

    error: ConnectorError
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Hold:
    """Not now: the step goes back to the queue until ``until``; the claim does not count as an attempt."""

    until: datetime
    reason: str


@dataclass(frozen=True)
class Withdrawn:
    """A hold ended and the rule's condition no longer holds (``recheck``): the run ends skipped."""

    reason: str


Outcome = Success | Failure | Hold | Withdrawn
