"""Built-in alerts: dead letters piling up, one action failing, the relay falling behind, a calendar
channel left to expire — each an event (at most one an hour), which the shipped rules turn into email."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlmodel import Session, select

from engine.runtime.ops_alerts import OpsAlerts
from store.db import session_scope
from store.models import CalendarSyncState, Event
from tests.engine.runtime.pipeline_helpers import ScriptedConnector, make_driver, permanent
from tests.support.catalogue import payload_errors

RULES = """
rules:
  - id: portal
    on: order.sent
    do:
      - log.write: {message: "enviado"}
"""


def stored(driver, kind: str) -> list[Event]:  # type: ignore[no-untyped-def]
    with Session(driver.core.db) as session:
        events = list(session.exec(select(Event).where(Event.type == kind)))
    assert [error for event in events for error in payload_errors(event.type, event.payload)] == []
    return events


def test_a_burst_of_dead_letters_raises_a_spike_and_names_the_failing_action_once_an_hour(
        on_database) -> None:  # type: ignore[no-untyped-def]
    driver = make_driver(on_database(RULES))
    connectors = driver.core.runner.connectors
    connectors["log"] = ScriptedConnector([permanent()] * 12, connectors["log"])
    for n in range(12):
        driver.emit("order.sent", f"o{n}")
    driver.drain()
    alerts = OpsAlerts(driver.core.db)
    first = alerts.check()
    again = alerts.check()

    assert sorted(event.type for event in first) == ["ops.connector_failing", "ops.dead_letter_spike"]
    [spike] = stored(driver, "ops.dead_letter_spike")
    [failing] = stored(driver, "ops.connector_failing")
    assert spike.payload["count"] == 12 and spike.payload["by_action"] == {"log.write": 12}
    assert failing.payload["action"] == "log.write" and failing.payload["connector"] == "log"
    assert len(again) == 2 and len(stored(driver, "ops.dead_letter_spike")) == 1  # the same hour: one event
    driver.core.close()


def test_a_relay_falling_behind_raises_a_backlog_alert(on_database) -> None:  # type: ignore[no-untyped-def]
    driver = make_driver(on_database(RULES))
    driver.emit("order.sent", "late")  # stored, never relayed
    now = datetime.now(UTC) + timedelta(minutes=10)
    [alert] = OpsAlerts(driver.core.db).check(now)
    assert alert.type == "ops.relay_backlog" and alert.data["events"] == 1
    assert len(stored(driver, "ops.relay_backlog")) == 1
    assert alert.data["oldest_seconds"] >= 599
    driver.core.close()


def test_a_calendar_channel_about_to_end_unrenewed_raises_an_alert(on_database) -> None:  # type: ignore[no-untyped-def]
    driver = make_driver(on_database(RULES))
    now = datetime.now(UTC)
    with session_scope(driver.core.db) as session:
        session.add(CalendarSyncState(calendar_id="ana@example.com", channel_id="c1", channel_token="t",
                                      channel_resource_id="r", channel_expires_at=now + timedelta(hours=2)))
        session.add(CalendarSyncState(calendar_id="bia@example.com", channel_id="c2", channel_token="t",
                                      channel_resource_id="r", channel_expires_at=now + timedelta(days=5)))
    [alert] = OpsAlerts(driver.core.db).check(now)
    assert (alert.type, alert.data["calendar_id"]) == ("calendar.channel_expiring", "ana@example.com")
    assert len(stored(driver, "calendar.channel_expiring")) == 1
    driver.core.close()


def test_nothing_wrong_raises_nothing(on_database) -> None:  # type: ignore[no-untyped-def]
    driver = make_driver(on_database(RULES))
    assert OpsAlerts(driver.core.db).check() == []
    driver.core.close()
