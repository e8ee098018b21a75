"""Schedules: fire times, one claim per (rule, fire time), misfire policy, failover, rule reloads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path
from zoneinfo import ZoneInfo

import redis
import sqlalchemy as sa
from sqlmodel import Session, select

from engine.language.events import Event
from engine.language.models import CronTrigger, EveryTrigger
from engine.runtime.intake import accept_events
from engine.runtime.leader import RedisLeader
from engine.runtime.rulestate import RuleSetHolder
from engine.runtime.scheduler import BuiltinJob, Scheduler, aps_trigger, latest_fire_time
from store.models.events import Event as EventRow
from store.models.runs import RuleRun
from store.models.schedules import ScheduleClaim
from tests.engine.runtime.leader_helpers import Partition, wait_for
from tests.engine.runtime.pipeline_helpers import Driver, make_driver, make_project
from tests.support.redis_server import shared_redis, unique_namespace

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


def test_an_event_stored_first_under_a_fires_id_does_not_cancel_the_fire(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, NIGHTLY))
    rule = driver.core.rules().by_id["nightly"]
    at = datetime(2026, 12, 1, 2, 0, tzinfo=SP)
    with driver.core.outbox.transaction() as tx:  # what POST /v1/events did before it refused these ids
        accept_events(tx.session, [Event(type="schedule", id="nightly@2026-12-01T02:00:00-03:00",
                                         source="scheduler", at=datetime(2099, 1, 1, tzinfo=UTC))])
    assert driver.core.relay.fire_schedule(rule, 0, at) == 1
    driver.drain()
    with Session(driver.core.db) as session:
        runs = [(r.rule_id, r.status) for r in session.exec(select(RuleRun)) if r.rule_id == "nightly"]
    assert runs == [("nightly", "succeeded")]
    assert claimed(driver, "nightly") == [at]


def test_a_far_future_schedule_event_does_not_hold_back_catch_up(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, NIGHTLY))
    rules = driver.core.rules
    driver.core.relay.fire_schedule(rules().by_id["nightly"], 0, datetime(2026, 11, 28, 2, 0, tzinfo=SP))
    with driver.core.outbox.transaction() as tx:
        accept_events(tx.session, [Event(type="schedule", id="nightly@2099-01-01T02:00:00-03:00",
                                         source="scheduler", at=datetime(2099, 1, 1, 5, tzinfo=UTC))])
    fired: list[tuple[str, datetime]] = []
    scheduler = Scheduler(rules, lambda rule, index, at: fired.append((rule.id, at)) or 1, lambda: True,
                          "America/Sao_Paulo", driver.core.db)
    scheduler.catch_up(datetime(2026, 12, 1, 10, 0, tzinfo=SP))
    assert fired == [("nightly", datetime(2026, 12, 1, 2, 0, tzinfo=SP))]


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


def test_latest_fire_time_of_a_frequent_trigger_missed_for_long() -> None:
    every = aps_trigger(EveryTrigger(every="1s"), "UTC")
    now = datetime(2026, 12, 1, 10, 0, 0, 500_000, tzinfo=UTC)
    since = now - timedelta(days=90)
    assert latest_fire_time(every, now, since) == datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    assert latest_fire_time(every, now, now) is None  # nothing between since and now


def test_leading_again_after_following_catches_up_once(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, NIGHTLY))
    rules = driver.core.rules
    driver.core.relay.fire_schedule(rules().by_id["nightly"], 0, datetime(2026, 11, 28, 2, 0, tzinfo=SP))
    leading = False
    fired: list[tuple[str, datetime]] = []

    def fire(rule, index, at):
        fired.append((rule.id, at))
        return driver.core.relay.fire_schedule(rule, index, at)

    scheduler = Scheduler(rules, fire, lambda: leading, "America/Sao_Paulo", driver.core.db)
    assert scheduler.leads() is False and fired == []
    missed = latest_fire_time(aps_trigger(CronTrigger(cron="0 2 * * *", timezone="America/Sao_Paulo"), "UTC"),
                              datetime.now(UTC))
    leading = True
    assert scheduler.leads() is True
    assert fired == [("nightly", missed)]  # the latest time before we last saw ourselves follow
    leading = False
    assert scheduler.leads() is False
    leading = True
    assert scheduler.leads() is True
    assert fired == [("nightly", missed)]  # nothing missed since


def test_a_catch_up_that_cannot_read_the_database_holds_fires_back_until_it_can(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, NIGHTLY))
    rules = driver.core.rules
    driver.core.relay.fire_schedule(rules().by_id["nightly"], 0, datetime(2026, 11, 28, 2, 0, tzinfo=SP))
    fired: list[tuple[str, datetime]] = []
    away = sa.create_engine(f"sqlite:///{tmp_path / 'no-such-folder' / 'despacho.db'}")
    scheduler = Scheduler(rules, lambda rule, index, at: fired.append((rule.id, at)) or 1, lambda: True,
                          "America/Sao_Paulo", away)
    assert scheduler.leads() is False
    scheduler._job("often", 0)  # a newer fire would hide the missed one
    assert fired == []
    scheduler.db = driver.core.db  # the database is back
    assert scheduler.leads() is True
    assert [rule_id for rule_id, _ in fired] == ["nightly"]


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
    assert entry.details["digest"] == daemon.rules.state().digest
    daemon.core.db.dispose()


def test_a_rejected_rule_set_is_an_ops_alert_event_once_per_set(tmp_path: Path) -> None:
    from engine.runtime.daemon import Daemon, Parts
    from engine.settings import load_settings
    from store.models.events import Event as EventRow
    from tests.support.catalogue import payload_errors

    config = make_project(tmp_path, NIGHTLY)
    daemon = Daemon(load_settings(str(config), environ={}), Parts(relay=False, scheduler=False,
                                                                  watch_rules=False, workers=False))
    running = daemon.rules.state().version
    (tmp_path / "rules" / "r.yaml").write_text("rules:\n  - id: x\n    on: a.b\n    do: []\n")
    assert daemon.reload() is False and daemon.reload() is False  # the same broken files twice
    with Session(daemon.core.db) as session:
        (alert,) = session.exec(select(EventRow).where(EventRow.type == "ops.rules_rejected"))
    assert alert.payload["running_version"] == running and alert.payload["problems"]
    assert alert.payload["digest"] != daemon.rules.state().digest and "refused" in alert.payload["message"]
    assert payload_errors("ops.rules_rejected", alert.payload) == []
    daemon.core.db.dispose()


# --- failover with the real Redis: two schedulers, one lock ------------------------------------------

EVERY_SECOND = """
rules:
  - id: tick-once
    on: {every: 1s}
    do:
      - backup.run: {}
  - id: tick-skip
    on: {every: 1s, misfire: skip}
    do:
      - backup.run: {}
"""
SECOND = timedelta(seconds=1)
Fire = tuple[str, str, datetime, int]  # daemon, rule, fire time, evaluations (0: claimed already)


@dataclass
class Daemon:
    """One scheduler daemon: its own engine core, lock and Redis link over the shared database."""

    name: str
    driver: Driver
    link: Partition
    leader: RedisLeader
    scheduler: Scheduler
    running: bool = True

    def stop_scheduler(self) -> None:
        if self.running:
            self.scheduler.stop()
            self.running = False

    def close(self) -> None:
        self.stop_scheduler()
        self.link.heal()
        self.leader.stop()
        self.driver.core.db.dispose()


def start_daemon(name: str, config: Path, key: str, lease_ms: int, fires: list[Fire]) -> Daemon:
    driver = make_driver(config)
    link = Partition(redis.Redis.from_url(shared_redis(), socket_timeout=5))
    leader = RedisLeader(link, key, lease_ms=lease_ms)

    def fire(rule, index, at):
        count = driver.core.relay.fire_schedule(rule, index, at)
        fires.append((name, rule.id, at, count))
        return count

    scheduler = Scheduler(driver.core.rules, fire, leader.is_leader, "America/Sao_Paulo",
                          driver.core.db)
    leader.tick()  # as the daemon does before it starts its scheduler
    leader.start()
    scheduler.start()
    return Daemon(name, driver, link, leader, scheduler)


def made(fires: list[Fire], daemon: str, rule: str) -> list[datetime]:
    """The fire times ``daemon`` claimed for ``rule``, in order."""
    return sorted(at for name, rule_id, at, count in fires if name == daemon and rule_id == rule and count)


def claimed(driver: Driver, rule: str) -> list[datetime]:
    with Session(driver.core.db) as session:
        rows = session.exec(select(ScheduleClaim).where(ScheduleClaim.rule_id == rule))
        return sorted(row.fire_at for row in rows)


def every_second(times: list[datetime]) -> bool:
    return all(later - earlier == SECOND for earlier, later in pairwise(times))


def assert_each_fire_claimed_once(fires: list[Fire], driver: Driver, rule: str) -> None:
    times = [at for _, rule_id, at, count in fires if rule_id == rule and count]
    assert len(times) == len(set(times)), f"{rule}: a fire time was claimed twice"
    assert sorted(times) == claimed(driver, rule)


def test_a_new_leader_catches_up_the_leaderless_window_by_each_rules_misfire_policy(tmp_path: Path) -> None:
    config = make_project(tmp_path, EVERY_SECOND)
    key = f"{unique_namespace()}:scheduler:leader"
    lease_ms = 3000  # renewed every second: the lock outlives its dead holder by 2 to 3 s
    fires: list[Fire] = []
    first = start_daemon("first", config, key, lease_ms, fires)
    second = start_daemon("second", config, key, lease_ms, fires)
    try:
        assert first.leader.is_leader() and not second.leader.is_leader()
        wait_for(lambda: len(made(fires, "first", "tick-once")) >= 2, 10, "two fires by the leader")
        first.stop_scheduler()  # the leader dies: no more fires, no renewal, no release
        first.link.cut()
        died = datetime.now(UTC)
        wait_for(second.leader.is_leader, lease_ms / 1000 * 4 / 3 + 2, "the follower taking over")
        took_over = datetime.now(UTC)
        wait_for(lambda: [at for at in made(fires, "second", "tick-skip") if at > took_over + SECOND], 10,
                 "two fires by the new leader")
        second.stop_scheduler()
    finally:
        second.close()
        first.close()

    for rule in ("tick-once", "tick-skip"):
        assert_each_fire_claimed_once(fires, first.driver, rule)
        assert every_second(made(fires, "first", rule)) and every_second(made(fires, "second", rule))
    once_before, once_after = made(fires, "first", "tick-once"), made(fires, "second", "tick-once")
    skip_before, skip_after = made(fires, "first", "tick-skip"), made(fires, "second", "tick-skip")
    # misfire: once -- the new leader fired the last time of the leaderless window, then every second
    assert once_before[-1] <= died < once_after[0] < took_over
    # misfire: skip -- nothing due while no one led: the new leader starts with its first time
    assert skip_before[-1] <= died and skip_after[0] >= took_over - SECOND
    assert skip_after[0] - skip_before[-1] >= 2 * SECOND  # so at least one time went unfired


def test_a_leader_cut_off_from_redis_stops_firing_before_the_new_leader_starts(tmp_path: Path) -> None:
    config = make_project(tmp_path, EVERY_SECOND)
    key = f"{unique_namespace()}:scheduler:leader"
    fires: list[Fire] = []
    first = start_daemon("first", config, key, 1000, fires)
    second = start_daemon("second", config, key, 1000, fires)
    try:
        wait_for(lambda: len(made(fires, "first", "tick-once")) >= 2, 10, "two fires by the leader")
        first.link.cut()  # its scheduler runs on, but its renewals hang (a partition, a paused thread)
        wait_for(second.leader.is_leader, 4, "the follower taking over")
        took_over = datetime.now(UTC)
        wait_for(lambda: [at for at in made(fires, "second", "tick-once") if at > took_over + SECOND], 10,
                 "two fires by the new leader")
        first.link.heal()  # back on the network: its renewal finds the lock taken
        wait_for(lambda: not first.leader.tick(), 2, "the old leader seeing the lock taken")
        second.stop_scheduler()
        first.stop_scheduler()
    finally:
        second.close()
        first.close()

    for rule in ("tick-once", "tick-skip"):
        assert_each_fire_claimed_once(fires, first.driver, rule)
        assert max(made(fires, "first", rule)) < took_over  # it stopped when its own lease ran out
        assert every_second(made(fires, "second", rule))


def test_built_in_jobs_run_on_the_leader_only_and_a_failure_does_not_stop_them(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, NIGHTLY))
    runs: list[str] = []

    def failing() -> None:
        runs.append("failing")
        raise RuntimeError("Google is down")

    jobs = [BuiltinJob("ok", 60, lambda: runs.append("ok")), BuiltinJob("failing", 60, failing)]
    follower = Scheduler(driver.core.rules, lambda *a: 0, lambda: False, "UTC", driver.core.db, jobs=jobs)
    leader = Scheduler(driver.core.rules, lambda *a: 0, lambda: True, "UTC", driver.core.db, jobs=jobs)
    for job in jobs:
        follower._builtin(job)
    assert runs == []
    for _ in range(2):
        for job in jobs:
            leader._builtin(job)
    assert runs == ["ok", "failing", "ok", "failing"]


def test_built_in_jobs_are_registered_with_the_rules_jobs_and_survive_a_reschedule(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, NIGHTLY))
    scheduler = Scheduler(driver.core.rules, lambda *a: 0, lambda: True, "UTC", driver.core.db,
                          jobs=[BuiltinJob("calendar-sync-requests", 1.0, lambda: None)])
    scheduler.reschedule()
    scheduler.reschedule()
    ids = {job.id for job in scheduler._aps.get_jobs()}
    assert {"builtin:calendar-sync-requests", "leadership", "nightly#0"} <= ids
