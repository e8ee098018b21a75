"""Attacks through what ``despacho runs`` and ``dlq`` print: event data on an admin's terminal, and
id prefixes that try to match every row.

Grows with every defence: one test per attack, named after what it tries.
"""

from __future__ import annotations

from pathlib import Path

from sqlmodel import Session, select

from store.models.runs import DeadLetter, RuleRun
from tests.cli.commands.replay import despacho
from tests.engine.runtime.pipeline_helpers import (
    BACKUP,
    ScriptedConnector,
    make_driver,
    make_project,
    permanent,
)

RULES = """
rules:
  - id: keyed
    on: a.b
    dedupe: {key: "{{ data.key }}", window: 1h}
    do:
      - log.write: {message: "x", level: debug}
"""
ESCAPES = "\x1b[2J\x1b]0;owned\x07"  # clear the screen, retitle the terminal
FAKE_LINE = "k\n  conditions: none (faked)\u202e"


def test_escape_sequences_and_newlines_from_a_payload_do_not_reach_the_terminal(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, RULES))
    driver.emit("a.b", "e1", key=ESCAPES + FAKE_LINE)
    driver.core.relay.relay_once()
    with Session(driver.core.db) as session:
        run = session.exec(select(RuleRun)).one()
    driver.core.close()
    config = tmp_path / "config.yaml"
    shown = despacho(config, "runs", "show", run.id).stdout
    listed = despacho(config, "runs", "list").stdout
    for output in (shown, listed):
        assert "\x1b" not in output and "\x07" not in output and "\u202e" not in output
    assert "  conditions: none (faked)" not in shown.splitlines()
    assert "  dedupe key: \\u001b[2J\\u001b]0;owned\\u0007k\\u000a  conditions: none (faked)\\u202e" \
        in shown.splitlines()


def test_a_prefix_of_like_wildcards_matches_no_dead_letter(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, BACKUP))
    connectors = driver.core.runner.connectors
    connectors["backup"] = ScriptedConnector([permanent()], connectors["backup"])
    driver.emit("ops.backup_due", "b1")
    driver.drain()
    config = tmp_path / "config.yaml"
    for typed in ("%%%%", "____", "%"):
        result = despacho(config, "dlq", "discard", typed)
        assert result.exit_code == 1, typed
    with Session(driver.core.db) as session:
        # the rule's fallback succeeded, so the letter is 'handled'; no wildcard may have discarded it
        assert [letter.resolution for letter in session.exec(select(DeadLetter))] == ["handled"]
    driver.core.close()
