"""``despacho dlq``: JSON lists, whole ids when piped, and ids given as unique prefixes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlmodel import Session, select

from store.models.runs import DeadLetter, RuleRun
from tests.cli.commands.replay import as_json, despacho
from tests.engine.runtime.pipeline_helpers import (
    BACKUP,
    Driver,
    ScriptedConnector,
    make_driver,
    make_project,
    permanent,
)

# without its SMS fallback: a letter whose fallback succeeded is handled, not open
NO_FALLBACK = BACKUP.split("        fallback:")[0]


def _two_failed_backups(tmp_path: Path, rules: str) -> Iterator[tuple[Path, Driver]]:
    config = make_project(tmp_path, rules)
    driver = make_driver(config)
    connectors = driver.core.runner.connectors
    connectors["backup"] = ScriptedConnector([permanent(), permanent()], connectors["backup"])
    driver.emit("ops.backup_due", "b1")
    driver.emit("ops.backup_due", "b2")
    driver.drain()
    yield config, driver
    driver.core.close()


@pytest.fixture
def failed(tmp_path: Path) -> Iterator[tuple[Path, Driver]]:
    """Two nightly backups failed for good, with no fallback: two open dead letters."""
    yield from _two_failed_backups(tmp_path, NO_FALLBACK)


@pytest.fixture
def failed_with_fallback(tmp_path: Path) -> Iterator[tuple[Path, Driver]]:
    """The same two failures, each replaced by its SMS fallback: the letters are handled."""
    yield from _two_failed_backups(tmp_path, BACKUP)


def letters(driver: Driver) -> list[DeadLetter]:
    with Session(driver.core.db) as session:
        return list(session.exec(select(DeadLetter)))


def test_the_list_has_a_json_form(failed: tuple[Path, Driver]) -> None:
    config, driver = failed
    body = as_json(despacho(config, "dlq", "list", "--format", "json"))
    assert sorted(d["id"] for d in body["dead_letters"]) == sorted(d.id for d in letters(driver))
    assert {(d["action"], d["error_code"], d["resolution"]) for d in body["dead_letters"]} == {
        ("backup.run", "21211", None)}


def test_the_text_list_keeps_whole_ids_when_piped(failed: tuple[Path, Driver]) -> None:
    config, driver = failed
    result = despacho(config, "dlq", "list")
    assert result.exit_code == 0, result.output
    for letter in letters(driver):
        assert letter.id in result.stdout


def test_show_retry_and_discard_take_unique_prefixes(failed: tuple[Path, Driver]) -> None:
    config, driver = failed
    first, second = letters(driver)
    shown = as_json(despacho(config, "dlq", "show", first.id[:8]))
    assert shown["dead_letter"]["id"] == first.id and shown["step"]["action"] == "backup.run"
    result = despacho(config, "dlq", "discard", second.id[:6])
    assert (result.exit_code, result.stdout.strip()) == (0, "1 dead letter(s) discarded")
    result = despacho(config, "dlq", "retry", first.id[:6])
    assert (result.exit_code, result.stdout.strip()) == (0, "1 step(s) queued again")
    assert {(d.id, d.resolution) for d in letters(driver)} == {(first.id, "reprocessed"),
                                                               (second.id, "discarded")}


def test_one_unknown_id_among_several_changes_nothing(failed: tuple[Path, Driver]) -> None:
    config, driver = failed
    first, _ = letters(driver)
    result = despacho(config, "dlq", "discard", first.id, "ffffffff")
    assert result.exit_code == 1
    assert result.output.strip() == "dead_letter 'ffffffff' not found"
    assert all(d.resolution is None for d in letters(driver))


def test_an_ambiguous_prefix_names_the_candidates_and_changes_nothing(failed: tuple[Path, Driver]) -> None:
    config, driver = failed
    first, _ = letters(driver)
    twin = first.id[:8] + "-0000-4000-8000-000000000000"
    with Session(driver.core.db) as session:
        session.add(DeadLetter(id=twin, step_id=first.step_id, rule_id="nightly", action="backup.run",
                               error="x"))
        session.commit()
    result = despacho(config, "dlq", "retry", first.id[:8])
    assert result.exit_code == 1
    assert f"dead_letter '{first.id[:8]}' is ambiguous: it starts " in result.output
    assert all(d.resolution is None for d in letters(driver))


def test_runs_show_a_dead_step_with_its_error_its_letter_and_the_fallback_output(
        failed_with_fallback: tuple[Path, Driver]) -> None:
    config, driver = failed_with_fallback
    with Session(driver.core.db) as session:
        run = session.exec(select(RuleRun).where(RuleRun.event_id == "b1")).one()
    body = as_json(despacho(config, "runs", "show", run.id, "--format", "json"))
    dead, fallback = body["steps"]
    assert (dead["action"], dead["status"], dead["error_code"], dead["error"]) == (
        "backup.run", "dead", "21211", "invalid number")
    assert dead["dead_letter"]["resolution"] == "handled" and dead["attempts"] == 1
    assert (fallback["action"], fallback["status"], fallback["fallback_of"]) == ("sms.send", "succeeded",
                                                                               dead["id"])
    assert fallback["output"] and fallback["finished_at"]
    text = despacho(config, "runs", "show", run.id[:5]).stdout
    assert "    backup.run (do[0]): dead, attempt 1 of 3" in text
    assert "      error: [21211] invalid number" in text
    assert f"      dead letter {dead['dead_letter']['id']}: handled" in text
