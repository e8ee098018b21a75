"""Dead letters keep the params the failed call was made with (masked), and a fallback that succeeds
handles its dead letter. On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlmodel import Session, select

from engine.runtime import deadletters
from store.models.runs import DeadLetter, RuleStep
from tests.engine.runtime.pipeline_helpers import (
    BACKUP,
    ScriptedConnector,
    make_driver,
    permanent,
    run_retries_now,
    transient,
)

WEBHOOK = """
rules:
  - id: portal
    on: service_order.assigned
    do:
      - http.request:
          url: "https://portal.example.com/os/{{ data.order.id }}?token=s3cr3t"
          headers: {Authorization: "Bearer abc123", X-Order: "{{ data.order.id }}"}
          json: {status: "{{ data.order.status }}"}
"""


def letters(driver) -> list[DeadLetter]:
    with Session(driver.core.db) as session:
        return list(session.exec(select(DeadLetter)))


def steps(driver) -> dict[str, RuleStep]:
    with Session(driver.core.db) as session:
        return {step.action: step for step in session.exec(select(RuleStep))}


def test_a_dead_letter_keeps_the_rendered_params_with_secrets_masked(on_database) -> None:
    driver = make_driver(on_database(WEBHOOK))
    connectors = driver.core.runner.connectors
    connectors["http"] = ScriptedConnector([permanent("404 from the portal", "http_404")], connectors["http"])
    driver.emit("service_order.assigned", "e1", order={"id": "o1", "status": "assigned"})
    driver.drain()
    (letter,) = letters(driver)
    expected = {"url": "https://portal.example.com/os/o1?token=***",
                "headers": {"Authorization": "***", "X-Order": "o1"}, "json": {"status": "assigned"}}
    assert letter.params == expected
    with Session(driver.core.db) as session:
        view = deadletters.show(session, letter.id)
        assert view.step.params == letter.params  # dlq show prints both
        assert "abc123" not in str(view.letter.model_dump()) + str(view.step.model_dump())


def test_a_retried_failure_records_the_params_of_its_last_attempt(on_database) -> None:
    driver = make_driver(on_database(BACKUP.replace("backup.run: {}", "backup.run: {tags: [nightly]}")))
    connectors = driver.core.runner.connectors
    connectors["backup"] = ScriptedConnector([transient()] * 3, connectors["backup"])
    driver.emit("ops.backup_due", "b1")
    driver.drain()
    assert steps(driver)["backup.run"].params["tags"] == ["nightly"]  # recorded at the first failure already
    run_retries_now(driver)
    run_retries_now(driver)
    backup_letter = next(letter for letter in letters(driver) if letter.action == "backup.run")
    assert backup_letter.params["tags"] == ["nightly"]


def test_a_fallback_that_succeeds_handles_the_dead_letter(on_database) -> None:
    driver = make_driver(on_database(BACKUP))
    connectors = driver.core.runner.connectors
    connectors["backup"] = ScriptedConnector([permanent()], connectors["backup"])
    driver.emit("ops.backup_due", "b1")
    driver.drain()
    (letter,) = letters(driver)
    fallback = steps(driver)["sms.send"]
    assert fallback.status == "succeeded"
    assert (letter.resolution, letter.handled_by, letter.resolved_by) == ("handled", fallback.id, "fallback")
    assert letter.resolved_at is not None
    with Session(driver.core.db) as session:
        assert deadletters.list_dead_letters(session) == []  # not open any more
        assert [x.id for x in deadletters.list_dead_letters(session, include_resolved=True)] == [letter.id]
        assert deadletters.show(session, letter.id).letter.handled_by == fallback.id


def test_a_fallback_that_fails_too_leaves_both_dead_letters_open(on_database) -> None:
    driver = make_driver(on_database(BACKUP))
    connectors = driver.core.runner.connectors
    connectors["backup"] = ScriptedConnector([permanent()], connectors["backup"])
    connectors["sms"] = ScriptedConnector([permanent("opted out", "21610")], connectors["sms"])
    driver.emit("ops.backup_due", "b1")
    driver.drain()
    found = letters(driver)
    assert sorted(letter.action for letter in found) == ["backup.run", "sms.send"]
    assert {letter.resolution for letter in found} == {None}
    sms = next(letter for letter in found if letter.action == "sms.send")
    assert sms.params == {"to": "+55 11 9****-4321", "body": "Backup falhou"}  # the number masked
