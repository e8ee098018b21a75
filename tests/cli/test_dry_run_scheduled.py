"""`despacho dry-run --rule ID --at ...` evaluates a scheduled rule against the database."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from cli import app
from store.db import make_engine, session_scope
from store.migrate import upgrade
from store.seed import seed_demo
from tests.conftest import write

runner = CliRunner()
AT = datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))

RULES = """
rules:
  - id: overdue-sms
    on: {cron: "0 9 * * *", for_each: invoices.overdue, params: {days: 3}}
    if: data.invoice.days_overdue >= 3
    do:
      - sms.send: {to: "{{ data.customer.phone }}", body: "Fatura {{ data.invoice.number }} vencida"}
  - id: nightly
    on: {cron: "0 2 * * *"}
    do:
      - backup.run: {}
"""


def seeded_database(project: Path) -> str:
    url = f"sqlite:///{project / 'demo.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        seed_demo(session, at=AT, customers=30, technicians=5, orders=200)
    engine.dispose()
    return url


def test_for_each_rule_gives_one_evaluation_per_row(project: Path, monkeypatch) -> None:
    write(project / "rules/r.yaml", RULES)
    monkeypatch.setenv("DESPACHO_DATABASE__URL", seeded_database(project))
    result = runner.invoke(app, ["dry-run", "--rule", "overdue-sms", "--at", "2026-12-01T09:00",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    results = json.loads(result.output)["results"]
    assert results, "the demo company has overdue invoices"
    for entry in results:
        assert entry["event"]["type"] == "schedule" and entry["event"]["source"] == "scheduler"
        assert entry["event"]["data"]["invoice"]["days_overdue"] >= 3
        (rule,) = entry["rules"]
        assert rule["matched"] and rule["actions"][0]["params"]["body"].startswith("Fatura ")
    assert len({entry["event"]["id"] for entry in results}) == len(results)


def test_schedule_without_for_each_is_one_evaluation(project: Path, monkeypatch) -> None:
    write(project / "rules/r.yaml", RULES)
    monkeypatch.setenv("DESPACHO_DATABASE__URL", f"sqlite:///{project / 'unused.db'}")
    result = runner.invoke(app, ["dry-run", "--rule", "nightly", "--at", "2026-12-01T02:00",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    assert not (project / "unused.db").exists()  # no query to run: the database was not opened
    (entry,) = json.loads(result.output)["results"]
    assert entry["event"]["id"] == "nightly@2026-12-01T02:00:00-03:00"


def test_unknown_rule_suggests_a_name(project: Path) -> None:
    write(project / "rules/r.yaml", RULES)
    result = runner.invoke(app, ["dry-run", "--rule", "overdue-smss"])
    assert result.exit_code == 2
    assert "did you mean 'overdue-sms'?" in result.output


def test_unmigrated_database_says_how_to_fix_it(project: Path, monkeypatch) -> None:
    write(project / "rules/r.yaml", RULES)
    (project / "empty.db").touch()  # an empty file, as SQLite leaves behind
    monkeypatch.setenv("DESPACHO_DATABASE__URL", f"sqlite:///{project / 'empty.db'}")
    result = runner.invoke(app, ["dry-run", "--rule", "overdue-sms"])
    assert result.exit_code == 1
    assert "run 'despacho db upgrade'" in result.output


def test_events_file_and_rule_are_exclusive(project: Path) -> None:
    write(project / "rules/r.yaml", RULES)
    assert runner.invoke(app, ["dry-run"]).exit_code == 2


def test_time_the_schedule_does_not_fire_is_said_with_the_next_fire(project: Path) -> None:
    write(project / "rules/r.yaml", RULES)
    result = runner.invoke(app, ["dry-run", "--rule", "nightly", "--at", "2026-12-01T02:30"])
    assert result.exit_code == 0, result.output
    assert ("note: cron '0 2 * * *' does not fire at 2026-12-01T02:30:00-03:00; it next fires at "
            "2026-12-02T02:00:00-03:00 (evaluated as if it did)") in result.output


def test_every_trigger_off_its_grid_is_said_in_json_notes(project: Path) -> None:
    write(project / "rules/r.yaml", """
        rules:
          - id: often
            on: {every: 15m}
            do: [{log.write: {message: "tick"}}]
        """)
    def notes(at: str) -> list[str]:
        result = runner.invoke(app, ["dry-run", "--rule", "often", "--at", at, "--format", "json"])
        return json.loads(result.output)["notes"]

    assert notes("2026-12-01T10:15") == []
    (note,) = notes("2026-12-01T10:16")
    assert note.startswith("every 15m does not fire at 2026-12-01T10:16:00-03:00; it next fires at "
                           "2026-12-01T10:30:00-03:00")


def test_query_without_rows_says_the_rule_would_not_run(project: Path, monkeypatch) -> None:
    write(project / "rules/r.yaml", RULES)
    url = f"sqlite:///{project / 'fresh.db'}"
    upgrade(url)
    monkeypatch.setenv("DESPACHO_DATABASE__URL", url)
    result = runner.invoke(app, ["dry-run", "--rule", "overdue-sms", "--at", "2026-12-01T09:00"])
    assert result.exit_code == 0, result.output
    assert ("note: the query 'invoices.overdue' returns no rows at 2026-12-01T09:00:00-03:00: "
            "rule 'overdue-sms' would not run") in result.output


def test_event_rule_given_to_rule_option_is_refused(project: Path) -> None:
    write(project / "rules/r.yaml", """
        rules:
          - id: on-event
            on: x.y
            do: [{log.write: {message: "x"}}]
        """)
    result = runner.invoke(app, ["dry-run", "--rule", "on-event"])
    assert result.exit_code == 1 and "rule 'on-event' has no cron or every trigger" in result.output
