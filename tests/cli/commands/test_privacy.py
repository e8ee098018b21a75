"""``despacho privacy ...``: what the data-protection officer types and reads, on the demo company."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from typer.testing import CliRunner

from cli import app
from store.db import make_engine
from tests.conftest import write
from tests.support.privacy import NAME, PHONE, build_world, reopen

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
runner = CliRunner()


def world_in(project: Path, db_url: str, *, closed: bool = True) -> tuple[str, str]:
    write(project / "config.yaml", f"database: {{url: '{db_url}'}}\n")
    engine = make_engine(db_url)
    try:
        world = build_world(engine, AT)
        if not closed:
            reopen(engine, world.order_id)
    finally:
        engine.dispose()
    return world.customer_id, world.order_id


def test_export_writes_json_and_a_pdf_and_records_the_request(project: Path, db_url: str) -> None:
    customer_id, _ = world_in(project, db_url)
    (project / "out").mkdir()
    result = runner.invoke(app, ["privacy", "export", "(11) 98765-4321", "--out", "out", "--actor", "dpo"])
    assert result.exit_code == 0, result.output
    (json_file,) = (project / "out").glob("*.json")
    (pdf_file,) = (project / "out").glob("*.pdf")
    assert json.loads(json_file.read_text())["customer"]["name"] == NAME
    assert pdf_file.read_bytes().startswith(b"%PDF")
    listed = runner.invoke(app, ["privacy", "requests", "--format", "json"])
    (request,) = json.loads(listed.output)["requests"]
    assert (request["kind"], request["status"], request["requested_by"]) == ("export", "done", "user:dpo")
    log = runner.invoke(app, ["privacy", "access-log", customer_id])
    assert "user:dpo  privacy export" in log.output


def test_anonymise_refuses_open_orders_and_then_forced_reports_what_changed(project: Path,
                                                                            db_url: str) -> None:
    customer_id, order_id = world_in(project, db_url, closed=False)
    refused = runner.invoke(app, ["privacy", "anonymise", PHONE])
    forced = runner.invoke(app, ["privacy", "anonymise", customer_id, "--force", "--format", "json"])
    assert refused.exit_code == 2 and f"person: has 1 open service order(s) ({order_id})" in refused.output
    body = json.loads(forced.output)
    assert forced.exit_code == 0 and body["forced"] and body["changed"]["customers"] == 1


def test_correct_parses_assignments_and_names_bad_fields(project: Path, db_url: str) -> None:
    customer_id, _ = world_in(project, db_url)
    good = runner.invoke(app, ["privacy", "correct", customer_id, "--set", "city=Santos", "--set",
                               "address="])
    no_equals = runner.invoke(app, ["privacy", "correct", customer_id, "--set", "city"])
    bad_email = runner.invoke(app, ["privacy", "correct", customer_id, "--set", "email=nope"])
    assert good.exit_code == 0 and "corrected: city, address" in good.output
    assert no_equals.exit_code == 2 and "--set: 'city' is not field=value" in no_equals.output
    assert bad_email.exit_code == 2 and "customer.email" in bad_email.output


def test_a_request_is_recorded_refused_and_listed(project: Path, db_url: str) -> None:
    world_in(project, db_url)
    added = runner.invoke(app, ["privacy", "request", "export", PHONE, "--notes", "pediu por telefone"])
    request_id = added.output.split()[1].rstrip(":")
    refused = runner.invoke(app, ["privacy", "refuse", request_id, "--reason", "identidade não confirmada"])
    unknown = runner.invoke(app, ["privacy", "request", "delete", PHONE])
    listed = runner.invoke(app, ["privacy", "requests", "--status", "refused"])
    assert added.exit_code == 0 and refused.exit_code == 0 and request_id in listed.output
    assert unknown.exit_code == 2 and "kind" in unknown.output


def test_processors_and_purge(project: Path, db_url: str) -> None:
    world_in(project, db_url)
    processors = runner.invoke(app, ["privacy", "processors", PHONE])
    dry = runner.invoke(app, ["privacy", "purge", "--dry-run", "--format", "json"])
    assert "Twilio: whatsapp messages, 1 time(s)" in processors.output
    assert json.loads(dry.output)["dry_run"] is True


def test_incidents_are_added_listed_shown_and_updated(project: Path, db_url: str) -> None:
    world_in(project, db_url)
    added = runner.invoke(app, ["privacy", "incident", "add", "--summary", "Notebook com planilha furtado",
                                "--detected-at", "2026-12-23T10:00-03:00", "--category", "nome",
                                "--category", "telefone", "--subjects", "120", "--risk", "high"])
    incident_id = added.output.split()[1].rstrip(":")
    naive = runner.invoke(app, ["privacy", "incident", "add", "--summary", "x", "--detected-at",
                                "2026-12-23T10:00"])
    updated = runner.invoke(app, ["privacy", "incident", "update", incident_id,
                                  "--anpd-notified-at", "2026-12-28T09:00-03:00"])
    shown = json.loads(runner.invoke(app, ["privacy", "incident", "show", incident_id]).output)
    listed = runner.invoke(app, ["privacy", "incident", "list"])
    assert added.exit_code == 0 and "by 2026-12-29" in added.output
    assert naive.exit_code == 2
    assert updated.exit_code == 0 and shown["anpd_notified_at"].startswith("2026-12-28")
    assert shown["data_categories"] == ["nome", "telefone"] and incident_id in listed.output
