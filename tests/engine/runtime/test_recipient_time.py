"""Quiet hours on the recipient's clock, checked at planning and again before every message step;
``max_hold``, ``recheck`` and ``delay_until``. On SQLite and PostgreSQL (the claim and the hold take
different SQL paths on each)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, select

from engine.language.events import Event
from engine.runtime.planner import PlanResult
from store.models import Customer, Technician
from store.models.runs import RuleRun, RuleStep
from store.payloads import record_data
from store.runs import queued_steps
from tests.engine.runtime.pipeline_helpers import Driver, ScriptedConnector, make_driver, transient

SP = ZoneInfo("America/Sao_Paulo")
MANAUS = ZoneInfo("America/Manaus")
QUIET = '    quiet_hours: {from: "21:00", to: "08:00"}'
SMS = '      - sms.send: {to: "{{ data.customer.phone }}", body: "Olá {{ data.customer.name }}"}'


def rule(options: str, actions: str = SMS, condition: str = "") -> str:
    return f"""
rules:
  - id: r
    on: appointment.reminder_due
{condition}{options}
    do:
{actions}
"""


def payload(zone: str = "America/Sao_Paulo", name: str = "Maria Oliveira", starts_at: datetime | None = None,
            technician_zone: str = "America/Sao_Paulo") -> dict:
    """An appointment event's data as the store builds it (``store.payloads``)."""
    customer = Customer(name=name, phone="+5511987654321", email="maria@example.com", time_zone=zone)
    technician = Technician(name="João Pereira", region="sp-centro", phone="+5511912345678",
                            time_zone=technician_zone)
    start = starts_at or datetime(2026, 12, 4, 11, 0, tzinfo=UTC)
    return {"appointment": {"id": "a1", "starts_at": start.isoformat(), "status": "scheduled"},
            "customer": record_data("customer", customer),
            "technician": record_data("technician", technician)}


def plan(driver: Driver, event_id: str, data: dict, now: datetime) -> None:
    event = Event(type="appointment.reminder_due", id=event_id, data=data)
    driver.core.accept([event])
    with driver.core.transaction() as tx:
        result = driver.core.relay.planner.plan(tx.session, event, driver.core.rules().rules,
                                                now.astimezone(UTC), PlanResult())
        tx.send_after_commit(result.queued)


def at(driver: Driver, moment: datetime) -> None:
    driver.core.runner.clock = lambda: moment.astimezone(UTC)


def only(driver: Driver, model: type) -> list:
    with Session(driver.core.db) as session:
        return list(session.exec(select(model).order_by(model.created_at)))


def step_of(driver: Driver) -> RuleStep:
    (step,) = only(driver, RuleStep)
    return step


def sms_sent(root: Path) -> list[dict]:
    folder = root / "outbox" / "sms"
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))] if folder.exists() else []


# --- at planning --------------------------------------------------------------------------------

def test_customers_in_manaus_and_sao_paulo_are_held_until_eight_on_their_own_clocks(on_database) -> None:
    driver = make_driver(on_database(rule(QUIET)))
    midnight_sp = datetime(2026, 12, 2, 0, 0, tzinfo=SP)  # 23:00 in Manaus
    plan(driver, "manaus", payload("America/Manaus", "Ana Lima"), midnight_sp)
    plan(driver, "sp", payload("America/Sao_Paulo"), midnight_sp)
    held = {run.event_id: run for run in only(driver, RuleRun)}
    assert held["manaus"].held_until == datetime(2026, 12, 2, 8, 0, tzinfo=MANAUS)
    assert held["sp"].held_until == datetime(2026, 12, 2, 8, 0, tzinfo=SP)
    assert held["manaus"].hold_reason == "quiet hours 21:00–08:00 America/Manaus"
    assert held["sp"].hold_reason == "quiet hours 21:00–08:00 America/Sao_Paulo"
    assert {run.status for run in held.values()} == {"held"}


def test_the_recipients_zone_wins_over_the_rules_own(on_database) -> None:
    driver = make_driver(on_database(rule(QUIET[:-1] + ', time_zone: America/Sao_Paulo}')))
    plan(driver, "manaus", payload("America/Manaus"), datetime(2026, 12, 1, 21, 30, tzinfo=SP))  # 20:30 there
    (run,) = only(driver, RuleRun)
    assert (run.status, run.held_until) == ("planned", None)


def test_an_unknown_customer_zone_falls_back_and_the_hold_says_why(on_database) -> None:
    driver = make_driver(on_database(rule(QUIET[:-1] + ', time_zone: America/Manaus}')))
    plan(driver, "e1", payload("Mars/Olympus"), datetime(2026, 12, 1, 22, 30, tzinfo=MANAUS))
    (run,) = only(driver, RuleRun)
    assert run.held_until == datetime(2026, 12, 2, 8, 0, tzinfo=MANAUS)
    assert run.hold_reason == ("quiet hours 21:00–08:00 America/Manaus (customer time_zone 'Mars/Olympus' "
                               "is not a known zone; used America/Manaus)")


def test_recipient_technician_keeps_the_technicians_clock(on_database) -> None:
    options = '    quiet_hours: {from: "21:00", to: "08:00", recipient: technician}'
    driver = make_driver(on_database(rule(options)))
    plan(driver, "e1", payload("America/Sao_Paulo", technician_zone="America/Manaus"),
         datetime(2026, 12, 1, 21, 30, tzinfo=SP))  # 20:30 for the technician in Manaus
    (run,) = only(driver, RuleRun)
    assert run.status == "planned"


def test_max_hold_drops_a_run_the_window_would_hold_too_long(on_database) -> None:
    driver = make_driver(on_database(rule('    quiet_hours: {from: "21:00", to: "08:00", max_hold: 6h}')))
    plan(driver, "late", payload(), datetime(2026, 12, 1, 22, 0, tzinfo=SP))  # 10 h to wait
    plan(driver, "early", payload(), datetime(2026, 12, 2, 5, 0, tzinfo=SP))  # 3 h to wait
    runs = {run.event_id: run for run in only(driver, RuleRun)}
    assert runs["late"].status == "skipped"
    assert runs["late"].skip_reason == ("quiet hours 21:00–08:00 America/Sao_Paulo: would be held until "
                                        "2026-12-02 08:00, longer than max_hold 6h")
    assert runs["early"].status == "held"


# --- before every message step --------------------------------------------------------------------

def test_a_delay_ending_inside_quiet_hours_is_held_without_counting_an_attempt(on_database, tmp_path) -> None:
    driver = make_driver(on_database(rule(QUIET, SMS + "\n        delay: 2h")))
    plan(driver, "e1", payload("America/Manaus"), datetime(2026, 12, 1, 19, 30, tzinfo=MANAUS))
    at(driver, datetime(2026, 12, 1, 21, 31, tzinfo=MANAUS))
    assert driver.core.runner.run_step(step_of(driver).id) == "queued"
    step = step_of(driver)
    assert (step.status, step.attempts) == ("queued", 0)
    assert step.next_attempt_at == step.not_before == datetime(2026, 12, 2, 8, 0, tzinfo=MANAUS)
    assert step.hold_reason == "quiet hours 21:00–08:00 America/Manaus"
    assert sms_sent(tmp_path) == []
    at(driver, datetime(2026, 12, 2, 8, 0, 1, tzinfo=MANAUS))
    assert driver.core.runner.run_step(step.id) == "succeeded"
    assert [m["text"] for m in sms_sent(tmp_path)] == ["Olá Maria Oliveira"]


def test_a_retry_that_falls_inside_quiet_hours_is_held(on_database) -> None:
    driver = make_driver(on_database(rule(QUIET)))
    connectors = driver.core.runner.connectors
    connectors["sms"] = flaky = ScriptedConnector([transient()], connectors["sms"])
    plan(driver, "e1", payload(), datetime(2026, 12, 1, 20, 59, tzinfo=SP))
    at(driver, datetime(2026, 12, 1, 20, 59, 30, tzinfo=SP))
    assert driver.core.runner.run_step(step_of(driver).id) == "queued"  # the provider said 503
    at(driver, datetime(2026, 12, 1, 21, 0, 30, tzinfo=SP))
    assert driver.core.runner.run_step(step_of(driver).id) == "queued"  # the retry is held
    step = step_of(driver)
    assert (step.attempts, len(flaky.calls)) == (1, 1)
    assert step.next_attempt_at == datetime(2026, 12, 2, 8, 0, tzinfo=SP)


def test_max_hold_skips_a_step_the_window_would_hold_too_long(on_database, tmp_path) -> None:
    options = '    quiet_hours: {from: "21:00", to: "08:00", max_hold: 2h}'
    driver = make_driver(on_database(rule(options, SMS + "\n        delay: 3h")))
    plan(driver, "e1", payload(), datetime(2026, 12, 1, 19, 0, tzinfo=SP))
    at(driver, datetime(2026, 12, 1, 22, 0, tzinfo=SP))
    assert driver.core.runner.run_step(step_of(driver).id) == "skipped"
    step = step_of(driver)
    assert step.hold_reason == ("quiet hours 21:00–08:00 America/Sao_Paulo: would be held until "
                                "2026-12-02 08:00, longer than max_hold 2h")
    assert sms_sent(tmp_path) == []
    (run,) = only(driver, RuleRun)
    assert run.status == "succeeded"  # like an action whose if: was false, the rest of the run goes on


def test_steps_that_send_no_message_are_not_held(on_database) -> None:
    log = '      - log.write: {message: "noite"}\n        delay: 2h'
    driver = make_driver(on_database(rule(QUIET, log)))
    plan(driver, "e1", payload(), datetime(2026, 12, 1, 19, 30, tzinfo=SP))
    at(driver, datetime(2026, 12, 1, 21, 31, tzinfo=SP))
    assert driver.core.runner.run_step(step_of(driver).id) == "succeeded"


# --- recheck ---------------------------------------------------------------------------------------

def test_recheck_skips_a_released_run_whose_condition_no_longer_holds(on_database, tmp_path) -> None:
    condition = "    if: timestamp(data.appointment.starts_at) > now\n"
    options = '    quiet_hours: {from: "21:00", to: "08:00", recheck: true}'
    driver = make_driver(on_database(rule(options, condition=condition)))
    evening = datetime(2026, 12, 1, 23, 0, tzinfo=SP)
    plan(driver, "gone", payload(starts_at=datetime(2026, 12, 2, 7, 0, tzinfo=SP)), evening)
    plan(driver, "still", payload(starts_at=datetime(2026, 12, 2, 10, 0, tzinfo=SP)), evening)
    at(driver, datetime(2026, 12, 2, 8, 0, 5, tzinfo=SP))
    steps = {s.run_id: s for s in only(driver, RuleStep)}
    runs = {r.event_id: r for r in only(driver, RuleRun)}
    assert driver.core.runner.run_step(steps[runs["gone"].id].id) == "skipped"
    assert driver.core.runner.run_step(steps[runs["still"].id].id) == "succeeded"
    runs = {r.event_id: r for r in only(driver, RuleRun)}
    assert (runs["gone"].status, runs["gone"].skip_reason) == (
        "skipped", "recheck after quiet hours: the rule's condition no longer holds")
    assert runs["still"].status == "succeeded"
    assert len(sms_sent(tmp_path)) == 1


def test_without_recheck_a_released_run_is_sent_as_planned(on_database, tmp_path) -> None:
    condition = "    if: timestamp(data.appointment.starts_at) > now\n"
    driver = make_driver(on_database(rule(QUIET, condition=condition)))
    plan(driver, "e1", payload(starts_at=datetime(2026, 12, 2, 7, 0, tzinfo=SP)),
         datetime(2026, 12, 1, 23, 0, tzinfo=SP))
    at(driver, datetime(2026, 12, 2, 8, 0, 5, tzinfo=SP))
    assert driver.core.runner.run_step(step_of(driver).id) == "succeeded"


# --- delay_until -----------------------------------------------------------------------------------

REMINDER = SMS + "\n        delay_until: \"{{ data.appointment.starts_at | minus('24h') }}\""


def test_delay_until_waits_in_the_step_row_across_a_restart(on_database, tmp_path) -> None:
    config = on_database(rule("", REMINDER))
    driver = make_driver(config)
    start = datetime(2026, 12, 4, 11, 0, tzinfo=UTC)
    plan(driver, "e1", payload(starts_at=start), datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    at(driver, datetime(2026, 12, 1, 12, 0, 1, tzinfo=UTC))
    assert driver.core.runner.run_step(step_of(driver).id) == "queued"
    step = step_of(driver)
    assert (step.not_before, step.attempts) == (start - timedelta(hours=24), 0)
    assert step.hold_reason == "delay_until 2026-12-03T11:00+00:00"
    driver.core.db.dispose()

    restarted = make_driver(config)  # a new process: only the database remembers
    with Session(restarted.core.db) as session:
        assert [(row.id, row.next_attempt_at) for row in queued_steps(session)] == [
            (step.id, start - timedelta(hours=24))]
    at(restarted, datetime(2026, 12, 3, 10, 59, tzinfo=UTC))
    assert restarted.core.runner.run_step(step.id) is None  # not due yet
    at(restarted, datetime(2026, 12, 3, 11, 0, 1, tzinfo=UTC))
    assert restarted.core.runner.run_step(step.id) == "succeeded"
    assert len(sms_sent(tmp_path)) == 1


def test_delay_until_in_the_past_runs_now(on_database, tmp_path) -> None:
    driver = make_driver(on_database(rule("", REMINDER)))
    plan(driver, "e1", payload(starts_at=datetime(2026, 12, 1, 15, 0, tzinfo=UTC)),
         datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    at(driver, datetime(2026, 12, 1, 12, 0, 1, tzinfo=UTC))
    assert driver.core.runner.run_step(step_of(driver).id) == "succeeded"


def test_delay_until_that_renders_no_time_is_a_permanent_error_naming_the_field(on_database) -> None:
    driver = make_driver(on_database(rule("", REMINDER)))
    data = payload()
    data["appointment"]["starts_at"] = "a combinar"
    plan(driver, "e1", data, datetime(2026, 12, 1, 12, 0, tzinfo=UTC))
    at(driver, datetime(2026, 12, 1, 12, 0, 1, tzinfo=UTC))
    assert driver.core.runner.run_step(step_of(driver).id) == "dead"
    step = step_of(driver)
    assert step.error_code == "bad_delay_until" and step.attempts == 1
    assert step.last_error.startswith("delay_until: minus: not a time: 'a combinar'")


def test_delay_until_then_quiet_hours(on_database) -> None:
    """A wait that ends at night is held again until morning, in the recipient's zone."""
    driver = make_driver(on_database(rule(QUIET, REMINDER)))
    start = datetime(2026, 12, 4, 23, 30, tzinfo=MANAUS)
    plan(driver, "e1", payload("America/Manaus", starts_at=start),
         datetime(2026, 12, 1, 12, 0, tzinfo=MANAUS))
    at(driver, datetime(2026, 12, 1, 12, 0, 1, tzinfo=MANAUS))
    assert driver.core.runner.run_step(step_of(driver).id) == "queued"
    at(driver, datetime(2026, 12, 3, 23, 30, 1, tzinfo=MANAUS))
    assert driver.core.runner.run_step(step_of(driver).id) == "queued"
    step = step_of(driver)
    assert step.next_attempt_at == datetime(2026, 12, 4, 8, 0, tzinfo=MANAUS)
    assert step.hold_reason.startswith("quiet hours")
    with Session(driver.core.db) as session:  # the row, not a message, holds the wait
        assert session.execute(sa.select(RuleStep.attempts)).scalar_one() == 0
