"""A recipient's ``time_zone`` comes from event data: a hostile one must not crash planning, read a file
or slow the engine down; it is reported and the configured zone is used."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from engine.language.events import Event
from store.models.runs import RuleRun
from tests.engine.runtime.pipeline_helpers import make_driver, make_project

RULE = """
rules:
  - id: r
    on: a.b
    quiet_hours: {from: "21:00", to: "08:00"}
    do:
      - sms.send: {to: "+5511987654321", body: "oi"}
"""

HOSTILE_ZONES = {
    "a path out of the zone database": "../../../../etc/passwd",
    "an absolute path": "/etc/localtime",
    "a NUL": "America/Sao_Paulo\x00",
    "a huge name": "America/" + "A" * 100_000,
    "a number": 1234,
    "a nested object": {"name": "America/Manaus"},
    "a list": ["America/Manaus"],
    "an empty name after a slash": "America/",
}


@pytest.mark.parametrize("attack", sorted(HOSTILE_ZONES))
def test_a_hostile_recipient_time_zone_is_reported_and_the_configured_zone_used(attack: str,
                                                                                tmp_path: Path) -> None:
    driver = make_driver(make_project(tmp_path, RULE))
    event = Event(type="a.b", id="e1", data={"customer": {"time_zone": HOSTILE_ZONES[attack]}})
    driver.core.accept([event])
    late = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # 22:00 in São Paulo, the configured zone
    with driver.core.transaction() as tx:
        driver.core.relay.planner.plan(tx.session, event, driver.core.rules().rules, late)
    with Session(driver.core.db) as session:
        (run,) = session.exec(select(RuleRun))
    assert run.status == "held"
    assert run.held_until == datetime(2026, 12, 2, 11, 0, tzinfo=UTC)  # 08:00 in São Paulo
    assert "is not a known zone; used America/Sao_Paulo" in run.hold_reason
    assert len(run.hold_reason) <= 300
