"""The step runner's batches: each outcome is committed as its call returns, not at the batch's end."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from sqlmodel import Session

from connectors.base import ActionCall
from store.models.runs import RuleStep
from tests.engine.runtime.pipeline_helpers import BACKUP, Driver, ScriptedConnector, make_driver, make_project


def status_within(driver: Driver, step_id: str, wanted: str, seconds: float) -> str:
    """The step's stored status once it is ``wanted``, or whatever it is when ``seconds`` ran out."""
    deadline = time.monotonic() + seconds
    while True:
        with Session(driver.core.db) as session:
            status = session.get(RuleStep, step_id).status
        if status == wanted or time.monotonic() > deadline:
            return str(status)
        time.sleep(0.02)


def test_a_finished_steps_outcome_is_committed_while_the_next_call_of_its_batch_runs(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, BACKUP))
    driver.emit("ops.backup_due", "b1")
    driver.emit("ops.backup_due", "b2")
    driver.core.relay.relay_once()
    step_ids = [step_id for step_id, _ in driver.sent]
    seen: dict[str, str] = {}

    class WatchingTheFirst(ScriptedConnector):
        def execute(self, call: ActionCall) -> dict[str, Any]:
            if self.calls:  # the second call: the first one returned, this one has not
                (first,) = (step_id for step_id in step_ids if step_id != call.step_id)
                seen["first"] = status_within(driver, first, "succeeded", 10)
            return super().execute(call)

    connectors = driver.core.runner.connectors
    connectors["backup"] = WatchingTheFirst([], connectors["backup"])
    results = driver.core.runner.run_steps(step_ids)
    assert seen == {"first": "succeeded"}
    assert results == dict.fromkeys(step_ids, "succeeded")
    driver.core.close()
