"""Dry-run says when actions would run: quiet-hours holds (whose zone) and delays."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from engine.language.dryrun import DryRun
from engine.language.events import Event, parse_events
from engine.language.loader import load_ruleset
from engine.language.templating import TemplateStore
from tests.conftest import write

EXAMPLES = Path(__file__).resolve().parents[3] / "examples/events.yaml"
SAO_PAULO = {"timezone": "America/Sao_Paulo"}

RULES = """
rules:
  - id: quiet
    on: service_order.assigned
    quiet_hours: {from: "21:00", to: "08:00"}
    do:
      - log.write: {message: "first"}
      - log.write: {message: "second"}
        delay: 30m
  - id: delayed
    on: service_order.completed
    do:
      - log.write: {message: "now"}
      - log.write: {message: "later"}
        delay: 2h
      - log.write: {message: "even later"}
        delay: 1h
"""


def runner(project: Path, config: dict | None = None) -> DryRun:
    write(project / "rules/r.yaml", RULES)
    return DryRun(load_ruleset(["rules"], "templates"), TemplateStore("templates"), config or SAO_PAULO)


def example(event_type: str) -> Event:
    events = parse_events(EXAMPLES.read_text(encoding="utf-8"), str(EXAMPLES))
    return next(e for e in events if e.type == event_type)


def test_run_inside_quiet_hours_is_held_until_the_window_ends_in_the_recipients_zone(project: Path) -> None:
    night = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)  # 22:00 in São Paulo, the customer's time_zone
    (preview,) = runner(project, {"timezone": "UTC"}).run([example("service_order.assigned")], night)
    rule = preview.rules[0]
    assert rule.hold_zone == "America/Sao_Paulo"
    assert rule.held_until == datetime(2026, 12, 2, 11, 0, tzinfo=UTC)  # 08:00 local
    first, second = rule.actions
    assert first.runs_at == rule.held_until and first.held_until == rule.held_until
    assert second.runs_at == datetime(2026, 12, 2, 11, 30, tzinfo=UTC) and second.delayed


def test_run_outside_quiet_hours_is_not_held(project: Path) -> None:
    noon = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    (preview,) = runner(project).run([example("service_order.assigned")], noon)
    rule = preview.rules[0]
    assert rule.held_until is None
    assert rule.actions[0].runs_at == noon and not rule.actions[0].delayed


def test_the_recipients_zone_wins_over_the_rules(project: Path) -> None:
    write(project / "rules/r.yaml", RULES.replace('to: "08:00"}', 'to: "08:00", time_zone: Asia/Tokyo}'))
    runner_ = DryRun(load_ruleset(["rules"], "templates"), TemplateStore("templates"), SAO_PAULO)
    at = datetime(2026, 12, 2, 13, 0, tzinfo=UTC)  # 22:00 in Tokyo, 10:00 in São Paulo
    (preview,) = runner_.run([example("service_order.assigned")], at)
    assert preview.rules[0].hold_zone == "America/Sao_Paulo"  # the customer's own clock
    assert preview.rules[0].held_until is None


def test_unknown_recipient_zone_falls_back_to_the_configured_one(project: Path) -> None:
    event = example("service_order.assigned")
    data = {**event.data, "customer": {**event.data["customer"], "time_zone": "Mars/Olympus"}}
    at = datetime(2026, 12, 2, 1, 0, tzinfo=UTC)
    (preview,) = runner(project).run([event.model_copy(update={"data": data})], at)
    assert preview.rules[0].hold_zone == "America/Sao_Paulo"


def test_delays_add_up_from_step_to_step(project: Path) -> None:
    at = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
    (preview,) = runner(project).run([example("service_order.completed")], at)
    times = [(a.runs_at, a.delayed) for a in preview.rules[0].actions]
    assert times == [(at, False), (datetime(2026, 12, 2, 17, 0, tzinfo=UTC), True),
                     (datetime(2026, 12, 2, 18, 0, tzinfo=UTC), True)]


def test_delay_that_ends_in_quiet_hours_is_held_again(project: Path) -> None:
    write(project / "rules/r.yaml", """
        rules:
          - id: late
            on: service_order.completed
            quiet_hours: {from: "21:00", to: "08:00", time_zone: UTC}
            do:
              - log.write: {message: "now"}
              - log.write: {message: "after 3h"}
                delay: 3h
        """)
    runner_ = DryRun(load_ruleset(["rules"], "templates"), TemplateStore("templates"), {})
    # the customer's clock (America/Sao_Paulo, UTC-3) wins over the rule's UTC: 20:00 there
    (preview,) = runner_.run([example("service_order.completed")], datetime(2026, 12, 2, 23, 0, tzinfo=UTC))
    now, later = preview.rules[0].actions
    assert now.held_until is None and now.runs_at == datetime(2026, 12, 2, 23, 0, tzinfo=UTC)
    assert later.held_until == later.runs_at == datetime(2026, 12, 3, 11, 0, tzinfo=UTC)


def test_fallbacks_have_no_start_time(project: Path) -> None:
    write(project / "rules/r.yaml", """
        rules:
          - id: fb
            on: x.y
            do:
              - log.write: {message: "a"}
                delay: 1m
                fallback:
                  - log.write: {message: "b"}
        """)
    runner_ = DryRun(load_ruleset(["rules"], "templates"), TemplateStore("templates"), {})
    (preview,) = runner_.run([Event(type="x.y")], datetime(2026, 12, 2, tzinfo=UTC))
    action = preview.rules[0].actions[0]
    assert action.runs_at == datetime(2026, 12, 2, 0, 1, tzinfo=UTC)
    assert action.fallback[0].runs_at is None
