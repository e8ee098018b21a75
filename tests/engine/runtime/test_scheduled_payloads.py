"""The scheduler's own ``schedule`` events match their schema in schemas/events/."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from engine.language.loader import load_ruleset
from engine.language.models import CronTrigger, EveryTrigger
from engine.runtime.scheduled import fire_events
from tests.support.catalogue import payload_errors

ROOT = Path(__file__).resolve().parents[3]
AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


def test_fire_events_of_the_company_rules_match_the_schedule_schema() -> None:
    rules = load_ruleset([ROOT / "rules"], ROOT / "templates")
    scheduled = [rule for rule in rules.rules if rule.schedules]
    assert {rule.id for rule in scheduled} >= {"daily-backup", "sla-at-risk-alert"}
    errors = []
    for rule in scheduled:
        trigger = rule.schedules[0]
        assert isinstance(trigger, CronTrigger | EveryTrigger)
        rows = None if trigger.for_each is None else [{"order": {"id": "o-1"}}, {"order": {"id": "o-2"}}]
        claim, evaluations = fire_events(rule, trigger, AT, rows)
        errors += payload_errors(claim.type, claim.data)
        assert all(e.type == "schedule" for e in evaluations)
    assert errors == []
