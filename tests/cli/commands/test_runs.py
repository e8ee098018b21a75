"""``despacho runs list`` and ``runs show`` over runs the pipeline made from examples/events.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session, select

from store.models.runs import RuleRun
from tests.cli.commands.replay import EXAMPLES, NIGHT, as_json, despacho, plan_at, repo_project
from tests.engine.runtime.pipeline_helpers import Driver, make_driver


@dataclass
class Replayed:
    config: Path
    driver: Driver

    def runs(self) -> list[RuleRun]:
        with Session(self.driver.core.db) as session:
            return list(session.exec(select(RuleRun)))

    def run_of(self, rule_id: str, event_id: str) -> RuleRun:
        (run,) = [r for r in self.runs() if r.rule_id == rule_id and r.event_id == event_id]
        return run


@pytest.fixture
def replayed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Replayed]:
    config = repo_project(tmp_path)
    assert despacho(config, "emit", "--file", str(EXAMPLES)).exit_code == 0
    # a payload the rule cannot read: recorded as a skipped run with the failing condition
    broken = despacho(config, "emit", "service_order.assigned", "--id", "evt-broken",
                      "--data", '{"order": {"id": "o1"}}')
    assert broken.exit_code == 0, broken.output
    driver = make_driver(config)
    plan_at(driver, NIGHT, monkeypatch)
    yield Replayed(config, driver)
    driver.core.close()


def test_the_list_prints_every_run_with_its_whole_id_when_piped(replayed: Replayed) -> None:
    result = despacho(replayed.config, "runs", "list", "--limit", "200")
    assert result.exit_code == 0, result.output
    runs = replayed.runs()
    assert len(runs) > 10
    for run in runs:
        assert run.id in result.stdout
    overdue = replayed.run_of("invoice-overdue-3d-sms",
                              "invoice.overdue:5a7c9e1b-2d4f-4a6c-8e0b-1c3d5e7f9a2b:2026-12-01")
    line = next(line for line in result.stdout.splitlines() if overdue.id in line)
    assert "held" in line and "until 2026-12-01T12:00:00" in line  # 09:00 in São Paulo


def test_the_list_filters_by_rule_event_prefix_and_status(replayed: Replayed) -> None:
    body = as_json(despacho(replayed.config, "runs", "list", "--format", "json",
                            "--rule", "order-status-portal-webhook"))
    assert {r["event_id"] for r in body["runs"]} == {"evt-20261201-0001", "evt-20261201-0002",
                                                    "evt-20261202-0003", "evt-broken"}
    body = as_json(despacho(replayed.config, "runs", "list", "--format", "json", "--event", "evt-brok"))
    assert {(r["rule_id"], r["status"]) for r in body["runs"]} == {
        ("technician-assigned-notify-customer", "skipped"), ("technician-assigned-email-only", "skipped"),
        ("order-status-portal-webhook", "held")}
    held = as_json(despacho(replayed.config, "runs", "list", "--format", "json", "--status", "held"))
    assert held["runs"] and all(r["status"] == "held" for r in held["runs"])


def test_an_event_prefix_matching_several_events_is_refused_with_the_candidates(replayed: Replayed) -> None:
    result = despacho(replayed.config, "runs", "list", "--event", "evt-2026120")
    assert result.exit_code == 1
    assert "event 'evt-2026120' is ambiguous: it starts evt-20261201-0001, evt-20261201-0002" in result.output


def test_the_list_pages_through_next_cursor(replayed: Replayed) -> None:
    first = as_json(despacho(replayed.config, "runs", "list", "--format", "json", "--limit", "5"))
    second = as_json(despacho(replayed.config, "runs", "list", "--format", "json", "--limit", "5",
                              "--cursor", first["next_cursor"]))
    ids = [r["id"] for r in first["runs"] + second["runs"]]
    assert len(set(ids)) == 10


def test_an_unknown_status_is_a_usage_error(replayed: Replayed) -> None:
    result = despacho(replayed.config, "runs", "list", "--status", "queued")
    assert result.exit_code == 2
    assert "--status must be one of planned, held, running, succeeded, failed, skipped, not 'queued'" \
        in result.output


def test_show_takes_a_prefix_and_prints_the_condition_trace_and_the_steps(replayed: Replayed) -> None:
    run = replayed.run_of("technician-assigned-notify-customer", "evt-20261201-0001")
    result = despacho(replayed.config, "runs", "show", run.id[:8])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == f"run {run.id}: rule technician-assigned-notify-customer, held"
    assert "  event: service_order.assigned evt-20261201-0001 from erp at 2026-12-01T13:15:00+00:00" in lines
    held = next(line for line in lines if line.startswith("  held: "))
    assert held.startswith("  held: until 2026-12-01T11:00:00: ")  # 08:00 in São Paulo, then the reason
    assert lines[lines.index("  conditions:") + 1:lines.index("  conditions:") + 4] == [
        "    if.all[0]: data.customer.phone != null -> true",
        "    if.all[1]: data.customer.preferred_channel != \"email\" -> true",
        "    if.all[2]: not: \"whatsapp\" in data.customer.opt_outs -> true",
    ]
    assert any(line.startswith("    whatsapp.send (do[0]): queued, attempt 0 of") for line in lines)
    assert any(line.startswith("        fallback email.send (do[0].fallback[0]): pending") for line in lines)


def test_a_run_whose_condition_failed_shows_which_one_and_why(replayed: Replayed) -> None:
    run = replayed.run_of("technician-assigned-notify-customer", "evt-broken")
    body = as_json(despacho(replayed.config, "runs", "show", run.id, "--format", "json"))
    assert body["status"] == "skipped" and body["steps"] == []
    assert body["conditions"] == [
        {"path": "if.all[0]", "condition": "data.customer.phone != null", "result": None,
         "error": "no such field 'customer' in the event"},
        {"path": "if.all[1]", "condition": 'data.customer.preferred_channel != "email"', "result": None,
         "error": "no such field 'customer' in the event"},
        {"path": "if.all[2]", "condition": 'not: "whatsapp" in data.customer.opt_outs', "result": None,
         "error": "no such field 'customer' in the event"},
    ]


def test_show_json_has_the_event_keys_and_steps_in_rule_order(replayed: Replayed) -> None:
    run = replayed.run_of("technician-assigned-notify-customer", "evt-20261201-0001")
    body = as_json(despacho(replayed.config, "runs", "show", run.id, "--format", "json"))
    assert body["event"]["type"] == "service_order.assigned"
    assert body["dedupe_key"] == "3f2a9c1d-5b7e-4c1a-9d2e-8a6b4c0e1f23:b7c1d9e2-3f4a-4b5c-8d6e-7f8091a2b3c4"
    assert [(s["action"], s["status"]) for s in body["steps"]] == [("whatsapp.send", "queued"),
                                                                  ("email.send", "pending")]
    assert body["steps"][1]["fallback_of"] == body["steps"][0]["id"]
    assert body["steps"][0]["next_attempt_at"] == "2026-12-01T11:00:00+00:00"
    assert body["ruleset_version"] is None or body["ruleset_version"]  # filled where the set is recorded


def test_a_rule_without_if_says_so(replayed: Replayed) -> None:
    run = replayed.run_of("order-status-portal-webhook", "evt-20261201-0002")
    result = despacho(replayed.config, "runs", "show", run.id)
    assert "  conditions: none (the rule has no if:)" in result.stdout.splitlines()
    assert "  held: mode queued: waiting for the rule's active run" in result.stdout.splitlines()


def test_an_ambiguous_run_prefix_lists_the_candidates(replayed: Replayed) -> None:
    run = replayed.runs()[0]
    twin = run.id[:8] + "-0000-4000-8000-000000000000"
    with Session(replayed.driver.core.db) as session:
        session.add(RuleRun(id=twin, rule_id="twin"))
        session.commit()
    result = despacho(replayed.config, "runs", "show", run.id[:8])
    assert result.exit_code == 1
    assert f"rule_run '{run.id[:8]}' is ambiguous: it starts " in result.output
    assert run.id in result.output and twin in result.output


@pytest.mark.parametrize(("typed", "message"), [
    ("ffffffff", "rule_run 'ffffffff' not found"),
    ("ff", "rule_run 'ff' not found (an id prefix needs at least 4 characters)"),
])
def test_an_unknown_run_is_not_found_with_exit_1(replayed: Replayed, typed: str, message: str) -> None:
    result = despacho(replayed.config, "runs", "show", typed)
    assert result.exit_code == 1
    assert result.output.strip() == message


def test_a_bad_format_is_a_usage_error(replayed: Replayed) -> None:
    result = despacho(replayed.config, "runs", "list", "--format", "yaml")
    assert result.exit_code == 2
    assert "--format must be text or json, not 'yaml'" in result.output


QUIET = """
rules:
  - id: quiet
    on: a.b
    quiet_hours: {from: "21:00", to: "08:00", timezone: America/Sao_Paulo}
    do:
      - log.write: {message: "late", level: debug}
"""


def test_a_run_released_from_its_hold_says_until_when_it_was_held(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.engine.runtime.pipeline_helpers import make_project, run_retries_now

    config = make_project(tmp_path, QUIET)
    driver = make_driver(config)
    driver.emit("a.b", "e1")
    plan_at(driver, NIGHT, monkeypatch)
    run_retries_now(driver)  # the window is over: the step runs
    with Session(driver.core.db) as session:
        run = session.exec(select(RuleRun)).one()
    driver.core.close()
    lines = despacho(config, "runs", "show", run.id).stdout.splitlines()
    assert lines[0] == f"run {run.id}: rule quiet, succeeded"
    assert lines[4].startswith("  was held until 2026-12-01T11:00:00+00:00")


def test_a_run_without_a_recorded_trace_says_so(replayed: Replayed) -> None:
    import sqlalchemy as sa

    run = replayed.run_of("technician-assigned-notify-customer", "evt-20261201-0001")
    with Session(replayed.driver.core.db) as session:  # as a run planned before traces were kept
        session.execute(sa.update(RuleRun).where(RuleRun.id == run.id).values(trace=None))
        session.commit()
    assert "  conditions: not recorded" in despacho(replayed.config, "runs", "show", run.id).stdout
    body = as_json(despacho(replayed.config, "runs", "show", run.id, "--format", "json"))
    assert body["conditions"] is None
