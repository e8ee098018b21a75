"""The event pipeline on the embedded database, driven step by step."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlmodel import Session, select

from engine.runtime import deadletters
from store.models.events import Event as EventRow
from store.models.runs import DeadLetter, RuleRun, RuleStep
from tests.engine.runtime.pipeline_helpers import (
    BACKUP,
    ScriptedConnector,
    make_driver,
    make_project,
    permanent,
    run_retries_now,
    transient,
)

NOTIFY = """
rules:
  - id: notify
    on: invoice.overdue
    if: data.days >= 3
    do:
      - event.emit: {type: invoice.reminded, data: {invoice: "{{ data.invoice }}"}}
        id: emitted
      - sms.send: {to: "+5511987654321", body: "Fatura {{ data.invoice }} ({{ steps.emitted.event_id }})"}
"""



def rows(driver, model, *where):
    with Session(driver.core.db) as session:
        return list(session.exec(select(model).where(*where)))


def outbox_files(root: Path, channel: str) -> list[dict]:
    folder = root / "outbox" / channel
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.exists() else []


def test_event_becomes_a_run_whose_steps_see_earlier_outputs(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, NOTIFY))
    driver.emit("invoice.overdue", "e1", days=5, invoice="NF-9")
    assert driver.drain() == ["succeeded", "succeeded"]
    (run,) = rows(driver, RuleRun)
    assert (run.rule_id, run.event_id, run.status) == ("notify", "e1", "succeeded")
    (sms,) = outbox_files(tmp_path, "sms")
    assert sms["text"] == "Fatura NF-9 (emit:notify:e1:emitted)"
    emitted = rows(driver, EventRow, EventRow.type == "invoice.reminded")
    assert [e.payload for e in emitted] == [{"invoice": "NF-9"}]


def test_condition_false_starts_no_run_and_the_event_is_dispatched(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, NOTIFY))
    driver.emit("invoice.overdue", "e1", days=1, invoice="NF-9")
    assert driver.drain() == []
    assert rows(driver, RuleRun) == []
    (event,) = rows(driver, EventRow, EventRow.id == "e1")
    assert event.dispatched_at is not None


def test_unreadable_payload_is_recorded_not_taken_as_no_match(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, NOTIFY))
    driver.emit("invoice.overdue", "e1", invoice="NF-9")
    driver.drain()
    (run,) = rows(driver, RuleRun)
    assert run.status == "skipped" and "no such field 'days'" in run.skip_reason


def test_same_event_id_twice_is_stored_and_run_once(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, NOTIFY))
    driver.emit("invoice.overdue", "e1", days=5, invoice="NF-9")
    driver.emit("invoice.overdue", "e1", days=5, invoice="NF-9")
    driver.drain()
    assert len(rows(driver, RuleRun)) == 1
    assert len(outbox_files(tmp_path, "sms")) == 1


def test_transient_failures_are_retried_until_success(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, BACKUP))
    connectors = driver.core.runner.connectors
    connectors["backup"] = flaky = ScriptedConnector([transient(), transient()], connectors["backup"])
    driver.emit("ops.backup_due", "b1")
    driver.drain()
    run_retries_now(driver)
    run_retries_now(driver)
    (step,) = rows(driver, RuleStep, RuleStep.action == "backup.run")
    assert (step.status, step.attempts, len(flaky.calls)) == ("succeeded", 3, 3)
    assert rows(driver, DeadLetter) == []
    assert {c.idempotency_key for c in flaky.calls} == {"nightly:b1:do[0]"}


def test_retry_waits_for_the_backoff_and_honours_retry_after(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, BACKUP))
    connectors = driver.core.runner.connectors
    connectors["backup"] = ScriptedConnector([transient(retry_after=120)], connectors["backup"])
    driver.emit("ops.backup_due", "b1")
    driver.drain()
    (step,) = rows(driver, RuleStep, RuleStep.action == "backup.run")
    assert step.status == "queued" and step.attempts == 1
    assert step.next_attempt_at - step.queued_at >= timedelta(seconds=120)
    ((step_id, delay),) = driver.sent
    assert delay >= 119_000
    assert driver.core.runner.run_step(step_id) is None  # not due yet: nobody may run it early


def test_permanent_failure_is_tried_once_then_dead_lettered_and_its_fallback_runs(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, BACKUP))
    connectors = driver.core.runner.connectors
    connectors["backup"] = flaky = ScriptedConnector([permanent()], connectors["backup"])
    driver.emit("ops.backup_due", "b1")
    driver.drain()
    assert len(flaky.calls) == 1
    (letter,) = rows(driver, DeadLetter)
    assert (letter.rule_id, letter.action, letter.error_code) == ("nightly", "backup.run", "21211")
    assert [f["text"] for f in outbox_files(tmp_path, "sms")] == ["Backup falhou"]
    (run,) = rows(driver, RuleRun)
    assert run.status == "succeeded"  # the fallback stood in for the failed action
    (failed,) = rows(driver, EventRow, EventRow.type == "action.failed")
    assert failed.payload["error_code"] == "21211" and failed.payload["rule_id"] == "nightly"


def test_attempts_exhausted_dead_letter_and_fallback(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, BACKUP))
    connectors = driver.core.runner.connectors
    connectors["backup"] = ScriptedConnector([transient()] * 3, connectors["backup"])
    driver.emit("ops.backup_due", "b1")
    driver.drain()
    run_retries_now(driver)
    run_retries_now(driver)
    (letter,) = rows(driver, DeadLetter)
    assert letter.attempts == 3
    assert len(outbox_files(tmp_path, "sms")) == 1


def test_dead_letter_retry_runs_the_step_again_and_discard_resolves(tmp_path: Path) -> None:
    without_fallback = BACKUP.split("        fallback:")[0]
    driver = make_driver(make_project(tmp_path, without_fallback))
    connectors = driver.core.runner.connectors
    connectors["backup"] = flaky = ScriptedConnector([permanent()], connectors["backup"])
    driver.emit("ops.backup_due", "b1")
    driver.drain()
    (letter,) = rows(driver, DeadLetter)
    with driver.core.transaction() as tx:
        assert deadletters.retry(tx, [letter.id], actor="test") == [letter.step_id]
    driver.drain()
    assert len(flaky.calls) == 2
    (run,) = rows(driver, RuleRun)
    assert run.status == "succeeded"
    (letter,) = rows(driver, DeadLetter)
    assert (letter.resolution, letter.resolved_by) == ("reprocessed", "test")


def test_step_run_twice_makes_its_effect_once(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, NOTIFY))
    driver.emit("invoice.overdue", "e1", days=5, invoice="NF-9")
    driver.drain()
    with Session(driver.core.db) as session:  # as if the success was never recorded
        session.execute(sa.update(RuleStep).values(status="queued", next_attempt_at=None))
        session.commit()
    for step in rows(driver, RuleStep):
        driver.core.runner.run_step(step.id)
    assert len(outbox_files(tmp_path, "sms")) == 1
    assert len(rows(driver, EventRow, EventRow.type == "invoice.reminded")) == 1


def test_a_duplicate_message_does_not_run_a_step_again(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, NOTIFY))
    driver.emit("invoice.overdue", "e1", days=5, invoice="NF-9")
    driver.core.relay.relay_once()
    ((step_id, _),) = driver.sent
    assert driver.core.runner.run_step(step_id) == "succeeded"
    assert driver.core.runner.run_step(step_id) is None


def test_reaper_takes_back_a_step_whose_lease_lapsed_and_resends_forgotten_ones(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, NOTIFY))
    driver.emit("invoice.overdue", "e1", days=5, invoice="NF-9")
    driver.core.relay.relay_once()
    ((step_id, _),) = driver.sent
    driver.sent.clear()
    with Session(driver.core.db) as session:  # a worker died in the middle of it
        session.execute(sa.update(RuleStep).where(RuleStep.id == step_id)
                        .values(status="running", lease_until=datetime(2000, 1, 1, tzinfo=UTC)))
        session.commit()
    driver.core.reaper.queued_timeout = timedelta(0)
    assert driver.core.reaper.reap_once() == 1
    assert [s for s, _ in driver.sent] == [step_id]
    driver.drain()
    assert rows(driver, RuleRun)[0].status == "succeeded"


def test_a_forgotten_step_is_resent_by_one_reaper_not_by_each_of_them(tmp_path: Path) -> None:
    from engine.runtime.reaper import Reaper

    driver = make_driver(make_project(tmp_path, NOTIFY))
    driver.emit("invoice.overdue", "e1", days=5, invoice="NF-9")
    driver.core.relay.relay_once()
    ((step_id, _),) = driver.sent
    driver.sent.clear()
    with Session(driver.core.db) as session:  # its message was lost a minute ago
        session.execute(sa.update(RuleStep).where(RuleStep.id == step_id)
                        .values(queued_at=datetime.now(UTC) - timedelta(minutes=1)))
        session.commit()
    # two workers' reapers, as on two machines
    reapers = [Reaper(driver.core.reaper.outbox, timedelta(seconds=30)) for _ in range(2)]
    assert [reaper.reap_once() for reaper in reapers] == [1, 0]
    assert [s for s, _ in driver.sent] == [step_id]


def test_poison_event_is_recorded_and_does_not_block_the_others(tmp_path: Path, monkeypatch) -> None:
    driver = make_driver(make_project(tmp_path, NOTIFY))
    driver.emit("invoice.overdue", "bad", days=5, invoice="NF-1")
    driver.emit("invoice.overdue", "good", days=5, invoice="NF-2")
    planner = driver.core.relay.planner
    original = planner.plan

    def plan(session, event, rules, now, result=None, **options):
        if event.id == "bad":
            raise RuntimeError("a bug in the planner")
        return original(session, event, rules, now, result, **options)

    monkeypatch.setattr(planner, "plan", plan)
    driver.drain()
    runs = {r.event_id: r for r in rows(driver, RuleRun)}
    assert runs["bad"].status == "failed" and "a bug in the planner" in runs["bad"].skip_reason
    assert runs["good"].status == "succeeded"
