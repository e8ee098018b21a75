"""An event's `customer.time_zone` is outside data: dry-run of a rule with quiet hours reads it
without failing, whatever it holds (ZoneInfo opens a file named after it)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.language.dryrun import DryRun
from engine.language.events import Event
from engine.language.loader import load_ruleset
from engine.language.templating import TemplateStore
from tests.conftest import write


@pytest.mark.parametrize("zone", ["x" * 10_000, "../../../../etc/passwd", "/etc/localtime", "", "\x00",
                                  "America/../../../etc/passwd"])
def test_hostile_recipient_zone_falls_back_to_the_configured_one(project: Path, zone: str) -> None:
    write(project / "rules/r.yaml", """
        rules:
          - id: quiet
            on: x.y
            quiet_hours: {from: "21:00", to: "08:00"}
            do: [{log.write: {message: "m"}}]
        """)
    runner = DryRun(load_ruleset(["rules"], "templates"), TemplateStore("templates"),
                    {"timezone": "America/Sao_Paulo"})
    event = Event(type="x.y", data={"customer": {"time_zone": zone}})
    (preview,) = runner.run([event], datetime(2026, 12, 2, 1, 0, tzinfo=UTC))
    assert preview.rules[0].hold_zone == "America/Sao_Paulo"
    assert preview.rules[0].held_until == datetime(2026, 12, 2, 11, 0, tzinfo=UTC)
