"""The pipeline on the real Redis broker with Dramatiq worker threads."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from engine.language.events import Event
from engine.runtime.assembly import build_pipeline
from engine.runtime.pipeline import Pipeline
from engine.runtime.workers import StepQueue, Workers
from engine.settings import load_settings
from store.models.runs import DeadLetter, RuleRun, RuleStep
from tests.engine.runtime.pipeline_helpers import (
    BACKUP,
    ScriptedConnector,
    make_project,
    permanent,
    transient,
)
from tests.support.redis_server import shared_redis, unique_namespace


@pytest.fixture
def redis_pipeline(tmp_path: Path) -> Iterator[Pipeline]:
    config = make_project(tmp_path, BACKUP)
    settings = load_settings(str(config), environ={})
    settings.broker.url = shared_redis()
    pipeline = build_pipeline(settings)
    queue = StepQueue(pipeline, settings.broker.url, namespace=unique_namespace())
    workers = Workers(queue, threads=4)
    workers.start()
    try:
        yield pipeline
    finally:
        workers.stop(5)


def wait_for(condition: Callable[[], bool], seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    pytest.fail("the pipeline did not get there in time")


def steps(pipeline: Pipeline) -> list[RuleStep]:
    with Session(pipeline.db) as session:
        return list(session.exec(select(RuleStep).order_by(RuleStep.created_at)))


def run_status(pipeline: Pipeline) -> str | None:
    with Session(pipeline.db) as session:
        run = session.exec(select(RuleRun)).first()
        return run.status if run else None


def test_action_failing_twice_then_succeeding_is_attempted_three_times(redis_pipeline: Pipeline) -> None:
    connectors = redis_pipeline.executor.connectors
    connectors["backup"] = flaky = ScriptedConnector([transient(), transient()], connectors["backup"])
    redis_pipeline.accept([Event(type="ops.backup_due", id="b1")])
    redis_pipeline.relay_once()
    wait_for(lambda: run_status(redis_pipeline) == "succeeded")
    backup = next(s for s in steps(redis_pipeline) if s.action == "backup.run")
    assert (backup.status, backup.attempts, len(flaky.calls)) == ("succeeded", 3, 3)
    assert all(s.status == "skipped" for s in steps(redis_pipeline) if s.action == "sms.send")


def test_permanent_failure_is_attempted_once_and_its_fallback_runs(redis_pipeline: Pipeline) -> None:
    connectors = redis_pipeline.executor.connectors
    connectors["backup"] = flaky = ScriptedConnector([permanent()], connectors["backup"])
    redis_pipeline.accept([Event(type="ops.backup_due", id="b1")])
    redis_pipeline.relay_once()
    wait_for(lambda: run_status(redis_pipeline) == "succeeded")
    assert len(flaky.calls) == 1
    by_action = {s.action: s for s in steps(redis_pipeline)}
    assert by_action["backup.run"].status == "dead" and by_action["sms.send"].status == "succeeded"
    with Session(redis_pipeline.db) as session:
        assert len(list(session.exec(select(DeadLetter)))) == 1
