"""`despacho dry-run --rule ID --at ...` reads a scheduled rule's records.query rows (read only) and
shows the calls a for_each over them would make."""

from __future__ import annotations

import json
from pathlib import Path

import sqlalchemy as sa
from typer.testing import CliRunner

from cli import app
from store.db import make_engine
from tests.cli.test_dry_run_scheduled import seeded_database
from tests.conftest import write

runner = CliRunner()

AGENDA = """
rules:
  - id: agenda
    on: {cron: "0 7 * * 1-6", timezone: America/Sao_Paulo}
    do:
      - id: visits
        records.query: {query: appointments.of_day, params: {day: today, assigned_only: true}}
      - email.send:
          to: "{{ group.members[0].technician.email }}"
          subject: "{{ group.count }} visitas"
          body: "{% for v in group.members %}{{ v.appointment.local_start }} {% endfor %}"
        for_each: steps.visits.rows
        group_by: "{{ item.technician.id }}"
"""


def test_a_scheduled_loop_over_query_rows_previews_one_call_per_group(project: Path, monkeypatch) -> None:
    write(project / "rules/r.yaml", AGENDA)
    url = seeded_database(project)
    monkeypatch.setenv("DESPACHO_DATABASE__URL", url)
    engine = make_engine(url)
    with engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*) FROM rule_runs")).scalar()
        notified = conn.execute(sa.text("SELECT count(*) FROM notifications")).scalar()  # the demo's own
    result = runner.invoke(app, ["dry-run", "--rule", "agenda", "--at", "2026-12-02T07:00",
                                 "--format", "json"])
    assert result.exit_code == 0, result.output
    ((rule,),) = [entry["rules"] for entry in json.loads(result.output)["results"]]
    query, emails = rule["actions"]
    assert query["preview"]["rows"] >= 2
    calls = emails["items"]
    assert emails["preview"]["calls"] == len(calls) >= 1
    assert all(call["params"]["to"].endswith("@example.com") for call in calls)
    assert sum(int(call["params"]["subject"].split()[0]) for call in calls) == query["preview"]["rows"]
    with engine.connect() as conn:  # read only: nothing planned, nothing sent
        assert conn.execute(sa.text("SELECT count(*) FROM rule_runs")).scalar() == before
        assert conn.execute(sa.text("SELECT count(*) FROM notifications")).scalar() == notified
    engine.dispose()
