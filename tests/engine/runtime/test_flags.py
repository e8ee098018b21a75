"""Feature flags at call time: off skips with the flag named, shadow plans without calling, a percent or
a list of subjects rolls a rule out to part of the customers, stably. On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlmodel import Session, select

from engine.runtime.flags import decide, in_percent
from store.db import session_scope
from store.flags import Flag, set_flag
from store.models import AuditLogEntry
from store.models.runs import RuleStep
from tests.engine.runtime.pipeline_helpers import ScriptedConnector, make_driver

RULES = """
rules:
  - id: greet
    on: customer.greeted
    do:
      - log.write: {message: "olá {{ data.customer.id }}"}
"""


def flagged(driver, key: str, mode: str, **options: object) -> None:  # type: ignore[no-untyped-def]
    with session_scope(driver.core.db) as session:
        set_flag(session, key, mode, actor="user:test", **options)  # type: ignore[arg-type]


def greet(driver, *customers: str) -> ScriptedConnector:  # type: ignore[no-untyped-def]
    connectors = driver.core.runner.connectors
    scripted = ScriptedConnector([], connectors["log"])
    connectors["log"] = scripted
    for customer in customers:
        driver.emit("customer.greeted", f"g-{customer}", customer={"id": customer})
    driver.drain()
    return scripted


def steps(driver) -> list[RuleStep]:  # type: ignore[no-untyped-def]
    with Session(driver.core.db) as session:
        return list(session.exec(select(RuleStep)))


def test_a_rule_switched_off_skips_its_steps_and_says_which_flag(on_database) -> None:  # type: ignore[no-untyped-def]
    driver = make_driver(on_database(RULES))
    flagged(driver, "rule:greet", "off")
    scripted = greet(driver, "c1")
    [step] = steps(driver)
    assert scripted.calls == []
    assert (step.status, step.hold_reason) == ("skipped", "flag rule:greet is off")
    driver.core.close()


def test_an_integration_in_shadow_is_planned_and_traced_but_not_called(on_database) -> None:  # type: ignore[no-untyped-def]
    driver = make_driver(on_database(RULES))
    flagged(driver, "connector:log", "shadow")
    scripted = greet(driver, "c1")
    [step] = steps(driver)
    assert scripted.calls == []
    assert step.status == "succeeded" and step.hold_reason == "shadow: flag connector:log"
    assert step.output is not None and step.output["shadow"] is True
    assert step.params["message"] == "olá c1"  # rendered and recorded as if it ran
    driver.core.close()


def test_a_percent_rollout_calls_exactly_the_customers_its_stable_hash_lets_in(on_database) -> None:  # type: ignore[no-untyped-def]
    driver = make_driver(on_database(RULES))
    flagged(driver, "action:log.write", "percent", percent=30, subject_key="data.customer.id")
    customers = [f"c{n}" for n in range(40)]
    scripted = greet(driver, *customers)
    called = sorted(call.params.message.removeprefix("olá ") for call in scripted.calls)  # type: ignore[attr-defined]
    assert called == sorted(c for c in customers if in_percent("action:log.write", c, 30))
    assert 0 < len(called) < 40
    left_out = [s for s in steps(driver) if s.status == "skipped"]
    reason = "flag action:log.write: data.customer.id is not in the rollout"
    assert all(s.hold_reason == reason for s in left_out)
    driver.core.close()


def test_listed_subjects_only_and_flag_changes_are_audited(on_database) -> None:  # type: ignore[no-untyped-def]
    driver = make_driver(on_database(RULES))
    flagged(driver, "rule:greet", "subjects", subjects=["c2"], subject_key="data.customer.id")
    flagged(driver, "rule:greet", "subjects", subjects=["c2", "c3"], subject_key="data.customer.id")
    scripted = greet(driver, "c1", "c2", "c3")
    assert sorted(call.params.message for call in scripted.calls) == ["olá c2", "olá c3"]  # type: ignore[attr-defined]
    with Session(driver.core.db) as session:
        entries = list(session.exec(select(AuditLogEntry).where(AuditLogEntry.action == "flag.set")
                                    .order_by(AuditLogEntry.at)))
    assert [e.actor for e in entries] == ["user:test", "user:test"]
    assert entries[0].details["before"] is None and entries[1].details["before"]["subjects"] == ["c2"]
    assert entries[1].details["after"]["subjects"] == ["c2", "c3"]
    driver.core.close()


def test_the_percent_hash_is_stable_and_close_to_the_share_asked_for() -> None:
    subjects = [f"customer-{n}" for n in range(10_000)]
    inside = [s for s in subjects if in_percent("rule:promo", s, 25)]
    assert 2_300 < len(inside) < 2_700
    assert inside == [s for s in subjects if in_percent("rule:promo", s, 25)]  # same answer every time
    assert set(inside) <= {s for s in subjects if in_percent("rule:promo", s, 50)}  # growing keeps those in


def test_off_wins_over_shadow_and_no_flag_is_on() -> None:
    flags = {"connector:sms": Flag("connector:sms", "shadow"),
             "action:sms.send": Flag("action:sms.send", "off")}
    assert decide({}, "r", "sms.send", {}).state == "on"
    assert decide(flags, "r", "sms.send", {}).reason == "flag action:sms.send is off"
    assert decide({"connector:sms": flags["connector:sms"]}, "r", "sms.send", {}).state == "shadow"
