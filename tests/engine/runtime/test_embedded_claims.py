"""Embedded: the relay claims the first steps it plans for the process's threads, as far as they have room."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlmodel import Session, select

from engine.language.events import Event
from engine.runtime.compose import Core, build_core
from engine.runtime.daemon import Daemon, Parts
from engine.runtime.local import BACKLOG_PER_THREAD, EmbeddedSteps
from engine.settings import load_settings
from store.models.events import Event as EventRow
from store.models.runs import RuleRun, RuleStep
from store.run_lifecycle import RunStatus, StepStatus
from tests.engine.runtime.pipeline_helpers import make_project

TWO_STEPS = """
rules:
  - id: greet
    on: order.created
    do:
      - log.write: {message: "first {{ event.id }}", level: debug}
      - log.write: {message: "second {{ data.name }}", level: debug}
"""

DEDUPED = """
rules:
  - id: once
    on: order.created
    dedupe: "{{ event.id }}"
    do:
      - log.write: {message: "deduped {{ event.id }}", level: debug}
"""

DELAYED = """
rules:
  - id: later
    on: order.created
    do:
      - log.write: {message: "later", level: debug}
        delay: 1h
"""


def embedded_core(tmp_path: Path, rules: str, threads: int = 2) -> Core:
    config = make_project(tmp_path, rules)
    config.write_text(config.read_text() + f"execution: {{worker_threads: {threads}, log_level: WARNING}}\n")
    return build_core(load_settings(str(config), environ={}))


@pytest.fixture
def cores() -> Iterator[list[Core]]:
    built: list[Core] = []
    yield built
    for core in built:
        if core.local is not None:
            core.local.stop(5)
        core.close()


def accept(core: Core, count: int, prefix: str = "e") -> None:
    core.accept([Event(type="order.created", id=f"{prefix}{i}", data={"name": "Ana"}) for i in range(count)])


def steps(core: Core) -> list[RuleStep]:
    with Session(core.db) as session:
        return list(session.exec(select(RuleStep).order_by(RuleStep.position)))


def runs(core: Core) -> list[RuleRun]:
    with Session(core.db) as session:
        return list(session.exec(select(RuleRun)))


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_the_embedded_relay_claims_the_first_step_it_plans_running_under_a_lease(tmp_path: Path,
                                                                                   cores: list[Core]) -> None:
    core = embedded_core(tmp_path, TWO_STEPS)
    cores.append(core)
    assert isinstance(core.local, EmbeddedSteps)
    accept(core, 1)
    before = time.time()
    assert core.relay.relay_once() == 1  # the threads are not started: the claim waits for one

    first, second = steps(core)
    assert (first.status, first.attempts) == (StepStatus.RUNNING, 1)
    assert first.started_at is not None and first.lease_until is not None
    lease_left = first.lease_until.timestamp() - before
    assert core.leases.lease.total_seconds() - 2 < lease_left <= core.leases.lease.total_seconds() + 1
    assert second.status == StepStatus.PENDING
    (run,) = runs(core)
    assert run.status == RunStatus.RUNNING and run.started_at is not None

    core.local.start()
    wait_for(lambda: all(step.status == StepStatus.SUCCEEDED for step in steps(core)))
    assert [step.attempts for step in steps(core)] == [1, 1]  # claimed once, by the relay
    wait_for(lambda: runs(core)[0].status == RunStatus.SUCCEEDED)


def test_the_relay_plans_no_further_ahead_than_the_threads_have_room(tmp_path: Path,
                                                                      cores: list[Core]) -> None:
    core = embedded_core(tmp_path, TWO_STEPS, threads=1)
    cores.append(core)
    room = BACKLOG_PER_THREAD  # one thread
    accept(core, room + 10)

    assert core.relay.relay_once() == room
    assert core.relay.relay_once() == 0  # no room: the rest wait in the event log
    with Session(core.db) as session:
        waiting = session.execute(sa.select(sa.func.count()).where(EventRow.dispatched_at.is_(None))).scalar()
    assert waiting == 10

    core.relay_wakeup.clear()
    core.local.start()
    # once half the claimed backlog has started, the threads wake the relay, which plans the rest
    assert core.relay_wakeup.wait(10)
    assert core.relay.relay_once() == 10
    wait_for(lambda: sum(step.status == StepStatus.SUCCEEDED for step in steps(core)) == 2 * (room + 10))


def planned_alone(tmp_path: Path, cores: list[Core], rules: str) -> tuple[Core, RuleStep]:
    """One event relayed with no thread started: the core and the one step it planned."""
    core = embedded_core(tmp_path, rules)
    cores.append(core)
    accept(core, 1)
    core.relay.relay_once()
    (step,) = steps(core)
    return core, step


def test_a_run_the_planner_wrote_already_has_its_step_queued_not_claimed(tmp_path: Path,
                                                                          cores: list[Core]) -> None:
    core, step = planned_alone(tmp_path, cores, DEDUPED)
    assert (step.status, step.attempts) == (StepStatus.QUEUED, 0)  # sent by id, claimed when it runs
    assert core.runner.run_steps([step.id]) == {step.id: StepStatus.SUCCEEDED}


def test_a_first_step_that_is_not_due_is_queued_with_its_delay_not_claimed(tmp_path: Path,
                                                                            cores: list[Core]) -> None:
    core, step = planned_alone(tmp_path, cores, DELAYED)
    assert step.status == StepStatus.QUEUED and step.next_attempt_at is not None
    assert (runs(core)[0].status, step.attempts) == (RunStatus.PLANNED, 0)


def test_claimed_steps_a_dead_process_never_ran_are_run_after_the_next_start(tmp_path: Path,
                                                                             cores: list[Core]) -> None:
    crashed = embedded_core(tmp_path, TWO_STEPS)
    accept(crashed, 3)
    crashed.relay.relay_once()  # claimed, then the process "dies" before a thread took them
    crashed.close()
    assert [step.status for step in steps(crashed)].count(StepStatus.RUNNING) == 3

    settings = load_settings(str(tmp_path / "config.yaml"), environ={})
    daemon = Daemon(settings, Parts(scheduler=False, watch_rules=False))
    daemon.start()  # embedded: running steps are ours again (Reaper.recover)
    try:
        wait_for(lambda: all(step.status == StepStatus.SUCCEEDED for step in steps(daemon.core)))
    finally:
        daemon.stop()
    assert len(steps(daemon.core)) == 6
    assert {run.status for run in runs(daemon.core)} == {RunStatus.SUCCEEDED}


def test_a_due_batch_waits_for_a_busy_thread_here_instead_of_going_to_the_broker() -> None:
    release = threading.Event()
    ran: list[list[str]] = []

    def run_steps(step_ids: list[str]) -> None:
        release.wait(5)
        ran.append(step_ids)

    local = EmbeddedSteps(run_steps, lambda claims: None, 1, leases=_NoLeases(),  # type: ignore[arg-type]
                          relay_wakeup=threading.Event())
    local.start()
    assert local.offer(["a"]) and local.offer(["b"])  # the one thread is busy with "a": "b" waits here
    release.set()
    wait_for(lambda: len(ran) == 2)
    local.stop(5)
    assert ran == [["a"], ["b"]]
    assert not local.offer(["c"])  # stopped: nothing is taken any more


def test_daemon_start_leaves_start_up_objects_out_of_later_full_collections(tmp_path: Path) -> None:
    config = make_project(tmp_path, TWO_STEPS)
    daemon = Daemon(load_settings(str(config), environ={}), Parts(scheduler=False, watch_rules=False))
    gc.unfreeze()
    try:
        daemon.start()
        assert gc.get_freeze_count() > 0
    finally:
        daemon.stop()
        gc.unfreeze()


class _NoLeases:
    lease = timedelta(seconds=5)

    def hold(self, step_id: str, attempt: int) -> None:
        pass
