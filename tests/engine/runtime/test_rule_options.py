"""dedupe, throttle, mode, quiet hours and delay, enforced by the planner and the executor."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, select

from engine.language.events import Event
from engine.language.models import QuietHours
from engine.runtime.planner import PlanResult
from engine.runtime.quiet_hours import held_until
from store.models.runs import RuleRun, RuleStep
from tests.engine.runtime.pipeline_helpers import make_driver, make_project

SP = ZoneInfo("America/Sao_Paulo")


def rule(options: str, actions: str = '      - sms.send: {to: "+5511987654321", body: "oi"}') -> str:
    return f"""
rules:
  - id: r
    on: a.b
{options}
    do:
{actions}
"""


def runs(driver) -> list[RuleRun]:
    with Session(driver.core.db) as session:
        return list(session.exec(select(RuleRun).order_by(RuleRun.created_at)))


def test_dedupe_skips_the_same_key_within_the_window(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, rule('    dedupe: {key: "{{ data.order }}", window: 1h}')))
    for event_id, order in (("e1", "o1"), ("e2", "o1"), ("e3", "o2")):
        driver.emit("a.b", event_id, order=order)
    driver.drain()
    assert [(r.event_id, r.status) for r in runs(driver)] == [
        ("e1", "succeeded"), ("e2", "skipped"), ("e3", "succeeded")]
    assert runs(driver)[1].skip_reason == "dedupe: key 'o1' seen within 1h"


def test_throttle_counts_per_key(tmp_path: Path) -> None:
    options = '    throttle: {key: "{{ data.customer }}", limit: 2, per: 1d}'
    driver = make_driver(make_project(tmp_path, rule(options)))
    for index, customer in enumerate(["c1", "c1", "c1", "c2"]):
        driver.emit("a.b", f"e{index}", customer=customer)
    driver.drain()
    assert [r.status for r in runs(driver)] == ["succeeded", "succeeded", "skipped", "succeeded"]
    assert runs(driver)[2].skip_reason.startswith("throttle: 2 per 1d reached for 'c1'")


def test_mode_single_skips_while_a_run_is_active(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, rule("    mode: single")))
    driver.emit("a.b", "e1")
    driver.core.relay.relay_once()  # e1 planned, its step not run yet
    driver.emit("a.b", "e2")
    driver.drain()
    assert [(r.event_id, r.status) for r in runs(driver)] == [("e1", "succeeded"), ("e2", "skipped")]


def test_mode_queued_waits_for_the_active_run(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, rule("    mode: queued")))
    driver.emit("a.b", "e1")
    driver.core.relay.relay_once()
    driver.emit("a.b", "e2")
    driver.core.relay.relay_once()
    assert [r.status for r in runs(driver)] == ["planned", "held"]
    assert len(driver.sent) == 1  # only e1's step
    driver.drain()
    assert [r.status for r in runs(driver)] == ["succeeded", "succeeded"]


def test_quiet_hours_hold_the_run_until_the_window_ends(tmp_path: Path) -> None:
    options = '    quiet_hours: {from: "21:00", to: "08:00", time_zone: America/Sao_Paulo}'
    driver = make_driver(make_project(tmp_path, rule(options)))
    late = datetime(2026, 12, 1, 23, 30, tzinfo=SP)
    driver.core.accept([Event(type="a.b", id="e1")])
    with driver.core.transaction() as tx:
        rules = driver.core.rules().rules
        result = driver.core.relay.planner.plan(tx.session, Event(type="a.b", id="e1"), rules,
                                                late.astimezone(UTC), PlanResult())
        tx.send_after_commit(result.queued)
    (run,) = runs(driver)
    assert run.status == "held"
    assert run.held_until == datetime(2026, 12, 2, 8, 0, tzinfo=SP)
    with Session(driver.core.db) as session:
        (step,) = session.exec(select(RuleStep))
    assert step.status == "queued" and step.next_attempt_at == run.held_until  # held, not dropped


def test_quiet_window_arithmetic() -> None:
    quiet = QuietHours.model_validate({"from": "21:00", "to": "08:00"})
    assert held_until(quiet, datetime(2026, 12, 1, 20, 59, tzinfo=SP), "America/Sao_Paulo") is None
    assert held_until(quiet, datetime(2026, 12, 1, 21, 0, tzinfo=SP), "America/Sao_Paulo") == datetime(
        2026, 12, 2, 8, 0, tzinfo=SP)
    assert held_until(quiet, datetime(2026, 12, 2, 7, 0, tzinfo=SP), "America/Sao_Paulo") == datetime(
        2026, 12, 2, 8, 0, tzinfo=SP)
    daytime = QuietHours.model_validate({"from": "12:00", "to": "14:00"})
    assert held_until(daytime, datetime(2026, 12, 1, 13, 0, tzinfo=SP), "America/Sao_Paulo") == datetime(
        2026, 12, 1, 14, 0, tzinfo=SP)


def test_recipient_time_zone_decides_quiet_hours(tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, rule('    quiet_hours: {from: "21:00", to: "08:00"}')))
    noon_utc = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)  # 21:00 in Tokyo, 09:00 in São Paulo
    for event_id, zone in (("tokyo", "Asia/Tokyo"), ("sp", "America/Sao_Paulo")):
        event = Event(type="a.b", id=event_id, data={"customer": {"time_zone": zone}})
        driver.core.accept([event])
        with driver.core.transaction() as tx:
            driver.core.relay.planner.plan(tx.session, event, driver.core.rules().rules, noon_utc)
    assert {r.event_id: r.status for r in runs(driver)} == {"tokyo": "held", "sp": "planned"}


def test_action_delay_holds_the_step(tmp_path: Path) -> None:
    actions = '      - sms.send: {to: "+5511987654321", body: "oi"}\n        delay: 2h'
    driver = make_driver(make_project(tmp_path, rule("", actions)))
    driver.emit("a.b", "e1")
    driver.drain()
    ((step_id, delay),) = driver.sent
    assert 7_100_000 < delay <= 7_200_000
    assert driver.core.runner.run_step(step_id) is None
