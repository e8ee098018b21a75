"""Schedules: fire times, one claim per (rule, fire time), misfire policy, rule reloads."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from engine.language.models import CronTrigger, EveryTrigger
from engine.runtime.rulestate import RuleSetHolder
from engine.runtime.scheduler import Scheduler, aps_trigger, latest_fire_time
from store.models.events import Event as EventRow
from store.models.runs import RuleRun
from tests.engine.runtime.pipeline_helpers import make_driver, make_project

SP = ZoneInfo("America/Sao_Paulo")
NIGHTLY = """
rules:
  - id: nightly
    on: {cron: "0 2 * * *", timezone: America/Sao_Paulo}
    do:
      - backup.run: {}
  - id: often
    on: {every: 15m, misfire: skip}
    do:
      - backup.run: {}
"""


def test_latest_fire_time_of_cron_and_interval() -> None:
    cron = aps_trigger(CronTrigger(cron="0 2 * * *"), "America/Sao_Paulo")
    now = datetime(2026, 12, 1, 10, 0, tzinfo=SP)
    assert latest_fire_time(cron, now) == datetime(2026, 12, 1, 2, 0, tzinfo=SP)
    every = aps_trigger(EveryTrigger(every="15m"), "UTC")
    assert latest_fire_time(every, datetime(2026, 12, 1, 10, 7, tzinfo=UTC)) == datetime(
        2026, 12, 1, 10, 0, tzinfo=UTC)


def test_a_fire_is_claimed_once_even_by_two_schedulers(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, NIGHTLY))
    other = make_driver(tmp_path / "config.yaml")  # a second daemon on the same database
    rule = driver.core.rules().by_id["nightly"]
    at = datetime(2026, 12, 1, 2, 0, tzinfo=SP)
    assert driver.core.relay.fire_schedule(rule, 0, at) == 1
    assert other.core.relay.fire_schedule(rule, 0, at) == 0
    driver.drain()
    with Session(driver.core.db) as session:
        runs = list(session.exec(select(RuleRun)))
        claims = list(session.exec(select(EventRow).where(EventRow.type == "schedule")))
    assert [(r.rule_id, r.event_id, r.status) for r in runs] == [
        ("nightly", "nightly@2026-12-01T02:00:00-03:00", "succeeded")]
    assert len(claims) == 1 and claims[0].dispatched_at is not None


def test_misfire_once_fires_the_latest_missed_time_and_skip_does_not(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, NIGHTLY))
    rules = driver.core.rules
    nightly = rules().by_id["nightly"]
    often = rules().by_id["often"]
    driver.core.relay.fire_schedule(nightly, 0, datetime(2026, 11, 28, 2, 0, tzinfo=SP))
    driver.core.relay.fire_schedule(often, 0, datetime(2026, 11, 28, 5, 0, tzinfo=UTC))
    fired: list[tuple[str, datetime]] = []

    def fire(rule, index, at):
        fired.append((rule.id, at))
        return 1

    scheduler = Scheduler(rules, fire, lambda: True, "America/Sao_Paulo", driver.core.db)
    scheduler.catch_up(datetime(2026, 12, 1, 10, 0, tzinfo=SP))  # down since the 28th
    assert fired == [("nightly", datetime(2026, 12, 1, 2, 0, tzinfo=SP))]


def test_a_follower_does_not_fire(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, NIGHTLY))
    fired = []
    scheduler = Scheduler(driver.core.rules, lambda *a: fired.append(a) or 1, lambda: False,
                          "America/Sao_Paulo", driver.core.db)
    scheduler._job("nightly", 0)
    assert fired == []


def test_bad_rule_file_keeps_previous_rules_active(tmp_path: Path) -> None:
    make_project(tmp_path, NIGHTLY)
    holder = RuleSetHolder(tmp_path / "rules", tmp_path / "templates")
    broken = "rules:\n  - id: broken\n    on: x.y\n    do: [{nope.x: {}}]\n"
    (tmp_path / "rules" / "r.yaml").write_text(broken)
    result = holder.reload()
    assert not result.ok and "unknown action 'nope.x'" in result.problems[0]
    assert sorted(holder().by_id) == ["nightly", "often"]
    (tmp_path / "rules" / "r.yaml").write_text(NIGHTLY.replace("often", "frequent"))
    assert holder.reload().ok and sorted(holder().by_id) == ["frequent", "nightly"]


def test_fingerprint_changes_when_a_rule_file_changes(tmp_path: Path) -> None:
    make_project(tmp_path, NIGHTLY)
    holder = RuleSetHolder(tmp_path / "rules", tmp_path / "templates")
    before = holder.fingerprint()
    (tmp_path / "rules" / "more.yaml").write_text("rules: []\n")
    assert holder.fingerprint() != before


def test_for_each_fire_plans_one_run_per_row(tmp_path: Path) -> None:
    from store.db import session_scope
    from store.seed import seed_demo

    rules = """
rules:
  - id: overdue
    on: {cron: "0 9 * * *", for_each: invoices.overdue, params: {days: 3}}
    do:
      - event.emit: {type: invoice.reminder_sent, data: {number: "{{ data.invoice.number }}"}}
"""
    driver = make_driver(make_project(tmp_path, rules))
    at = datetime(2026, 12, 1, 9, 0, tzinfo=SP)
    with session_scope(driver.core.db) as session:
        seed_demo(session, at=at, customers=20, technicians=4, orders=150)
    rule = driver.core.rules().by_id["overdue"]
    evaluations = driver.core.relay.fire_schedule(rule, 0, at)
    assert evaluations > 0
    assert driver.core.relay.fire_schedule(rule, 0, at) == 0
    driver.drain()
    with Session(driver.core.db) as session:
        runs = list(session.exec(select(RuleRun)))
        claim = session.get(EventRow, "overdue@2026-12-01T09:00:00-03:00")
    assert len(runs) == evaluations == claim.payload["rows"]
    assert {r.status for r in runs} == {"succeeded"}
    assert len({r.event_id for r in runs}) == evaluations


def test_daemon_reload_is_audited_and_a_rejected_set_keeps_the_old_rules(tmp_path: Path) -> None:
    from engine.runtime.daemon import Daemon, Parts
    from engine.settings import load_settings
    from store.models.admin import AuditLogEntry

    config = make_project(tmp_path, NIGHTLY)
    daemon = Daemon(load_settings(str(config), environ={}), Parts(relay=False, scheduler=False,
                                                                  watch_rules=False, workers=False))
    (tmp_path / "rules" / "r.yaml").write_text("rules:\n  - id: x\n    on: a.b\n    do: []\n")
    assert daemon.reload() is False
    assert sorted(daemon.rules().by_id) == ["nightly", "often"]
    with Session(daemon.core.db) as session:
        (entry,) = session.exec(select(AuditLogEntry))
    assert entry.action == "rules.reload_rejected" and entry.details["problems"]
    daemon.core.db.dispose()
