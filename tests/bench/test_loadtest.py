"""The load suite at a tiny size, so it does not rot: a worker SIGKILLed under load loses and doubles nothing.

Real ``despacho worker`` processes against the suite's private redis-server and PostgreSQL
cluster; about 200 events. Only correctness is asserted, never speed (the machine is shared).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.loadtest.faults import fault_table, run_fault
from bench.loadtest.harness import Services, slope_per_hour


@pytest.fixture(scope="module")
def services() -> Iterator[Services]:
    started = Services().start()
    yield started
    started.stop()


def test_worker_killed_under_load_loses_no_event_and_doubles_no_effect(services: Services) -> None:
    result = run_fault(services, "worker-kill", rate=25, workers=2, before=3, after=4, outage=0,
                       fault_seconds=0, settle_timeout=45)

    verdict = result.verdict
    assert result.events >= 150
    assert (verdict.lost, verdict.doubled, verdict.dead_letters) == (0, 0, 0), verdict
    assert verdict.census["steps_succeeded"] == verdict.census["runs"] == result.events
    assert verdict.vendor["events"] == result.events
    assert result.first_success_s is not None
    table = fault_table([result], 25, 2)
    assert "| worker-kill | SIGKILL 1 of 2 workers mid-call" in table


def test_slope_is_per_hour_and_flat_for_constant_values() -> None:
    assert slope_per_hour([(0, 10.0), (60, 11.0), (120, 12.0)]) == pytest.approx(60.0)
    assert slope_per_hour([(0, 5.0), (10, 5.0)]) == 0.0
