"""Which zone a quiet window is read in, for dry-run (the planner's hold computation is shared)."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.language.models import QuietHours
from engine.language.quiet_hours import held_until, hold_zone
from engine.runtime import quiet_hours as runtime_quiet_hours

WINDOW = QuietHours.model_validate({"from": "21:00", "to": "08:00"})


def test_customer_zone_is_read_from_time_zone() -> None:
    assert hold_zone(WINDOW, {"customer": {"time_zone": "Asia/Tokyo"}}, "UTC") == "Asia/Tokyo"


def test_missing_or_malformed_customer_zone_falls_back_to_the_default() -> None:
    for data in ({}, {"customer": None}, {"customer": {"time_zone": 3}},
                 {"customer": {"time_zone": "../../etc/passwd"}}, {"customer": {"time_zone": "x" * 10_000}}):
        assert hold_zone(WINDOW, data, "America/Sao_Paulo") == "America/Sao_Paulo"


def test_the_recipients_zone_wins_and_the_rules_zone_is_the_fallback() -> None:
    window = QuietHours.model_validate({"from": "21:00", "to": "08:00", "time_zone": "Asia/Tokyo"})
    assert hold_zone(window, {"customer": {"time_zone": "Europe/Lisbon"}}, "UTC") == "Europe/Lisbon"
    assert hold_zone(window, {}, "UTC") == "Asia/Tokyo"


def test_runtime_uses_the_same_function() -> None:
    assert runtime_quiet_hours.held_until is held_until
    assert held_until(WINDOW, datetime(2026, 12, 1, 22, 0, tzinfo=UTC), "UTC") == datetime(
        2026, 12, 2, 8, 0, tzinfo=UTC)
