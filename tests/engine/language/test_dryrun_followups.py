"""Dry-run follows the events `event.emit` actions would emit: which rules they start, to a depth."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from engine.language.dryrun import DryRun
from engine.language.events import Event, parse_events
from engine.language.loader import load_ruleset
from engine.language.templating import TemplateStore
from tests.conftest import write

AT = datetime(2026, 12, 2, 15, 0, tzinfo=UTC)
EXAMPLES = Path(__file__).resolve().parents[3] / "examples/events.yaml"


def runner(project: Path, rules: str, **options: int) -> DryRun:
    write(project / "rules/r.yaml", rules)
    return DryRun(load_ruleset(["rules"], "templates"), TemplateStore("templates"), {}, **options)


def test_emitted_event_is_matched_with_its_rendered_type_and_data(project: Path) -> None:
    dry = runner(project, """
        rules:
          - id: escalate
            on: invoice.overdue
            do:
              - event.emit:
                  type: invoice.escalated
                  data: {invoice: {number: "{{ data.invoice.number }}"}}
          - id: tell-finance
            on: invoice.escalated
            if: data.invoice.number != ""
            do:
              - log.write: {message: "escalada {{ data.invoice.number }}"}
        """)
    events = parse_events(EXAMPLES.read_text(encoding="utf-8"), str(EXAMPLES))
    overdue = next(e for e in events if e.type == "invoice.overdue")
    (preview,) = dry.run([overdue], AT)
    follow = preview.rules[0].actions[0].follow_up
    assert follow is not None and follow.depth == 1
    assert follow.event["type"] == "invoice.escalated" and follow.event["source"] == "rule:escalate"
    (finance,) = follow.rules
    assert finance.matched
    assert finance.actions[0].params == {"message": f"escalada {overdue.data['invoice']['number']}"}


def test_emitted_event_happens_when_its_step_runs(project: Path) -> None:
    dry = runner(project, """
        rules:
          - id: a
            on: x.start
            do:
              - event.emit: {type: x.next}
                delay: 10m
          - id: b
            on: x.next
            if: event.at > now - duration("1s")
            do: [{log.write: {message: "b"}}]
        """)
    (preview,) = dry.run([Event(type="x.start")], AT)
    follow = preview.rules[0].actions[0].follow_up
    assert follow is not None and follow.event["at"] == "2026-12-02T15:10:00Z"
    assert follow.rules[0].matched


def test_chain_stops_at_the_depth_limit(project: Path) -> None:
    chain = "\n".join(f"""
          - id: r{i}
            on: x.e{i}
            do: [{{event.emit: {{type: x.e{i + 1}}}}}]""" for i in range(6))
    dry = runner(project, "rules:" + chain + "\n", max_depth=3)
    (preview,) = dry.run([Event(type="x.e0")], AT)
    depths = []
    follow = preview.rules[0].actions[0].follow_up
    while follow is not None and follow.rules:
        depths.append((follow.depth, follow.rules[0].id))
        follow = follow.rules[0].actions[0].follow_up
    assert depths == [(1, "r1"), (2, "r2"), (3, "r3")]
    assert follow is not None and follow.depth == 4
    assert follow.stopped == "not followed: depth limit 3 reached"


def test_event_nobody_listens_to_is_not_marked_stopped_at_the_limit(project: Path) -> None:
    dry = runner(project, """
        rules:
          - id: a
            on: x.start
            do: [{event.emit: {type: x.nobody}}]
        """, max_depth=0)
    (preview,) = dry.run([Event(type="x.start")], AT)
    follow = preview.rules[0].actions[0].follow_up
    assert follow is not None and follow.rules == [] and follow.stopped is None


def test_rule_that_starts_itself_again_is_reported_as_a_loop(project: Path) -> None:
    dry = runner(project, """
        rules:
          - id: ping
            on: x.ping
            do: [{event.emit: {type: x.pong}}]
          - id: pong
            on: x.pong
            do: [{event.emit: {type: x.ping}}]
        """)
    (preview,) = dry.run([Event(type="x.ping")], AT)
    pong = preview.rules[0].actions[0].follow_up
    assert pong is not None and [r.id for r in pong.rules] == ["pong"]
    back = pong.rules[0].actions[0].follow_up
    assert back is not None and back.rules == [] and back.loops == ["ping -> pong -> ping"]


def test_loop_through_a_wildcard_rule_is_found(project: Path) -> None:
    dry = runner(project, """
        rules:
          - id: audit
            on: 'order.*'
            do: [{event.emit: {type: order.audited}}]
        """)
    (preview,) = dry.run([Event(type="order.created")], AT)
    follow = preview.rules[0].actions[0].follow_up
    assert follow is not None and follow.loops == ["audit -> audit"]


def test_emitted_type_too_long_for_the_event_log_is_an_action_error(project: Path) -> None:
    dry = runner(project, """
        rules:
          - id: long
            on: x.start
            do: [{event.emit: {type: "x.{{ 'a' * 120 }}"}}]
        """)
    (preview,) = dry.run([Event(type="x.start")], AT)
    action = preview.rules[0].actions[0]
    assert action.follow_up is None
    assert action.error is not None and action.error == ("the emitted event cannot be stored: "
                                            "type: String should have at most 100 characters")


def test_follow_ups_appear_in_the_json_form(project: Path) -> None:
    dry = runner(project, """
        rules:
          - id: a
            on: x.start
            do: [{event.emit: {type: x.next, data: {n: 1}}}]
          - id: b
            on: x.next
            do: [{log.write: {message: "n={{ data.n }}"}}]
        """)
    (preview,) = dry.run([Event(type="x.start")], AT)
    nested = preview.to_dict()["rules"][0]["actions"][0]["follow_up"]
    assert nested["event"]["data"] == {"n": 1}
    assert nested["rules"][0]["actions"][0]["params"] == {"message": "n=1"}
