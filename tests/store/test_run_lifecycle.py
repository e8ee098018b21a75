"""Runs and steps move only along the edges of their transition tables."""

from __future__ import annotations

import pytest

from store.errors import IllegalTransition
from store.run_lifecycle import (
    RUN_TRANSITIONS,
    STEP_TRANSITIONS,
    RunStatus,
    StepStatus,
    check_run,
    check_step,
    step_sources,
)


def test_every_status_has_a_row_in_its_table() -> None:
    assert set(STEP_TRANSITIONS) == set(StepStatus)
    assert set(RUN_TRANSITIONS) == set(RunStatus)


def test_a_step_can_be_claimed_only_from_queued() -> None:
    assert step_sources(StepStatus.RUNNING) == (StepStatus.QUEUED,)


def test_a_succeeded_step_can_only_die_of_a_failed_delivery() -> None:
    assert check_step("succeeded", "dead") is StepStatus.DEAD
    with pytest.raises(IllegalTransition, match="cannot go from 'succeeded' to 'queued'"):
        check_step("succeeded", "queued")


def test_a_pending_step_cannot_run_before_it_is_queued() -> None:
    with pytest.raises(IllegalTransition) as caught:
        check_step("pending", "running")
    assert caught.value.allowed == ("queued", "skipped")


def test_an_unknown_status_is_refused_by_name() -> None:
    with pytest.raises(IllegalTransition, match="unknown status"):
        check_step("queued", "exploded")


def test_a_skipped_run_is_final() -> None:
    with pytest.raises(IllegalTransition, match="none: it is final"):
        check_run("skipped", "running")
    assert check_run("failed", "running") is RunStatus.RUNNING  # a dead letter retried reopens it
