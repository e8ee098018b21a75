"""The engine core on each real shared broker (Redis, RabbitMQ) with Dramatiq worker threads."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import dramatiq
import pytest
from sqlmodel import Session, select

from engine.language.events import Event
from engine.runtime.compose import Core, build_core
from engine.runtime.workers import Workers
from engine.settings import load_settings
from store.models.runs import DeadLetter, RuleRun, RuleStep
from tests.engine.runtime.pipeline_helpers import (
    BACKUP,
    ScriptedConnector,
    make_project,
    permanent,
    transient,
)
from tests.support.brokers import SHARED_BROKERS, shared_broker

# A retry due 1 s later may already be due when a loaded machine gets round to sending it, and a
# due step rightly goes to a free local thread: this rule's retry waits long enough to stay delayed.
BACKUP_SLOW_RETRY = BACKUP.replace("delay: 1s", "delay: 4s")


@pytest.fixture
def rules() -> str:
    return BACKUP


@pytest.fixture(params=SHARED_BROKERS)
def shared_core(request: pytest.FixtureRequest, tmp_path: Path, rules: str) -> Iterator[Core]:
    config = make_project(tmp_path, rules)
    settings = load_settings(str(config), environ={})
    with shared_broker(request.param) as broker:
        settings.broker = broker
        core = build_core(settings)
        workers = Workers(core.broker, threads=4)
        workers.start()
        try:
            yield core
        finally:
            workers.stop(5)


def wait_for(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail("the engine did not get there in time")


def steps(core: Core) -> list[RuleStep]:
    with Session(core.db) as session:
        return list(session.exec(select(RuleStep).order_by(RuleStep.created_at)))


def run_status(core: Core) -> str | None:
    with Session(core.db) as session:
        run = session.exec(select(RuleRun)).first()
        return run.status if run else None


def test_action_failing_twice_then_succeeding_is_attempted_three_times(shared_core: Core) -> None:
    connectors = shared_core.runner.connectors
    connectors["backup"] = flaky = ScriptedConnector([transient(), transient()], connectors["backup"])
    shared_core.accept([Event(type="ops.backup_due", id="b1")])
    shared_core.relay.relay_once()
    wait_for(lambda: run_status(shared_core) == "succeeded")
    backup = next(s for s in steps(shared_core) if s.action == "backup.run")
    assert (backup.status, backup.attempts, len(flaky.calls)) == ("succeeded", 3, 3)
    assert all(s.status == "skipped" for s in steps(shared_core) if s.action == "sms.send")


def test_permanent_failure_is_attempted_once_and_its_fallback_runs(shared_core: Core) -> None:
    connectors = shared_core.runner.connectors
    connectors["backup"] = flaky = ScriptedConnector([permanent()], connectors["backup"])
    shared_core.accept([Event(type="ops.backup_due", id="b1")])
    shared_core.relay.relay_once()
    wait_for(lambda: run_status(shared_core) == "succeeded")
    assert len(flaky.calls) == 1
    by_action = {s.action: s for s in steps(shared_core)}
    assert by_action["backup.run"].status == "dead" and by_action["sms.send"].status == "succeeded"
    with Session(shared_core.db) as session:
        assert len(list(session.exec(select(DeadLetter)))) == 1


class Enqueued(dramatiq.Middleware):
    """Dramatiq's own hook: every message a producer puts on the broker."""

    def __init__(self) -> None:
        self.step_ids: list[list[str]] = []
        self.delays: list[int] = []

    def before_enqueue(self, broker: dramatiq.Broker, message: dramatiq.Message[object], delay: int) -> None:
        self.step_ids.append(list(message.args[0]))
        self.delays.append(delay or 0)


def one_backup_with_local_threads(core: Core) -> Enqueued:
    """One ops.backup_due event run to its end with the core's local threads on; what was enqueued."""
    assert core.local is not None and core.broker is not None
    enqueued = Enqueued()
    core.broker.add_middleware(enqueued)
    core.local.start()
    try:
        core.accept([Event(type="ops.backup_due", id="b1")])
        core.relay.relay_once()
        wait_for(lambda: run_status(core) == "succeeded")
    finally:
        core.local.stop(5)
    return enqueued


def test_a_step_its_worker_process_queued_runs_on_a_free_local_thread_with_no_broker_message(
        shared_core: Core) -> None:
    enqueued = one_backup_with_local_threads(shared_core)
    assert enqueued.step_ids == []
    assert [s.status for s in steps(shared_core) if s.action == "backup.run"] == ["succeeded"]


@pytest.mark.parametrize("rules", [BACKUP_SLOW_RETRY])
def test_a_delayed_retry_goes_through_the_broker_even_with_local_threads_free(shared_core: Core) -> None:
    connectors = shared_core.runner.connectors
    connectors["backup"] = ScriptedConnector([transient()], connectors["backup"])
    enqueued = one_backup_with_local_threads(shared_core)
    backup = next(s for s in steps(shared_core) if s.action == "backup.run")
    # sent once with its delay (Dramatiq enqueues it again itself when the delay is over)
    assert enqueued.step_ids[0] == [backup.id] and enqueued.delays[0] > 0 and backup.attempts == 2
    assert all(ids == [backup.id] for ids in enqueued.step_ids)
