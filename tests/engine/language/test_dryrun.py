from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from engine.language.dryrun import DryRun
from engine.language.events import Event
from engine.language.loader import load_ruleset
from engine.language.templating import TemplateStore
from tests.conftest import write

RULES = """
rules:
  - id: remind
    on: appointment.reminder_due
    if:
      - data.customer.phone != ""
      - any: ['data.channel == "sms"', 'data.channel == "whatsapp"']
    dedupe: "{{ data.appointment_id }}"
    do:
      - order.assign_technician: {order_id: "{{ data.order_id }}"}
        id: assign
      - sms.send: {to: "{{ data.customer.phone }}", template: lembrete}
        if: data.channel == "sms"
      - whatsapp.send:
          to: "{{ data.customer.phone }}"
          body: "Olá {{ data.customer.name }}, o técnico {{ steps.assign.technician_name }} vai até você."
        if: data.channel == "whatsapp"
        fallback:
          - email.send: {to: "{{ data.customer.email }}", template: lembrete}
"""


def dry_run(project: Path) -> DryRun:
    write(project / "rules/r.yaml", RULES)
    return DryRun(load_ruleset(["rules"], "templates"), TemplateStore("templates"), {})


def event(**data) -> Event:
    base = {"customer": {"name": "Ana", "phone": "+5511987654321", "email": "ana@example.com"},
            "order_id": "o1", "appointment_id": "a1", "channel": "sms"}
    return Event(type="appointment.reminder_due", id="e1", data={**base, **data})


def test_matching_rule_renders_params_and_message_preview(project: Path) -> None:
    (preview,) = dry_run(project).run([event()])
    (rule,) = preview.rules
    assert rule.matched and rule.keys == {"dedupe": "a1"}
    assign, sms, whatsapp = rule.actions
    assert assign.params == {"order_id": "o1"}
    assert sms.preview["text"] == "Ola Ana, visita amanha."
    assert (sms.preview["encoding"], sms.preview["segments"]) == ("GSM-7", 1)
    assert whatsapp.skipped == "condition false"


def test_whatsapp_preview_has_no_sms_segments_and_steps_show_placeholders(project: Path) -> None:
    (preview,) = dry_run(project).run([event(channel="whatsapp")])
    whatsapp = preview.rules[0].actions[2]
    assert "encoding" not in whatsapp.preview and "segments" not in whatsapp.preview
    assert whatsapp.preview["length"] == len(whatsapp.params["body"])
    assert "<assign.technician_name>" in whatsapp.params["body"]
    assert whatsapp.fallback[0].preview["subject"] == "Lembrete de visita"
    assert whatsapp.fallback[0].preview["html"] == "<p>Olá Ana</p>"


def test_unmatched_rule_explains_each_clause(project: Path) -> None:
    (preview,) = dry_run(project).run([event(channel="email")])
    (rule,) = preview.rules
    assert rule.matched is False
    assert [(c.path, c.value) for c in rule.conditions] == [
        ("if[0]", True), ("if[1].any[0]", False), ("if[1].any[1]", False)]
    assert rule.actions == []


def test_missing_template_variable_is_reported_on_the_action(project: Path) -> None:
    (preview,) = dry_run(project).run([event(customer={"phone": "+5511987654321"})])
    sms = preview.rules[0].actions[1]
    assert sms.error is not None and "has no attribute 'name'" in sms.error


def test_event_type_nobody_listens_to_gives_no_rules(project: Path) -> None:
    (preview,) = dry_run(project).run([Event(type="payment.received")])
    assert preview.rules == []


def test_dry_run_writes_nothing(project: Path) -> None:
    runner = dry_run(project)
    before = sorted((p, p.stat().st_mtime_ns) for p in project.rglob("*"))
    runner.run([event(), event(channel="whatsapp")], datetime(2026, 12, 1, tzinfo=UTC))
    after = sorted((p, p.stat().st_mtime_ns) for p in project.rglob("*"))
    assert before == after


def test_rendered_params_are_validated_again(project: Path) -> None:
    write(project / "rules/r.yaml", """
        rules:
          - id: bad-status
            on: x.y
            do:
              - event.emit: {type: "{{ data.kind }}"}
        """)
    runner = DryRun(load_ruleset(["rules"], "templates"), TemplateStore("templates"), {})
    (preview,) = runner.run([Event(type="x.y", data={"kind": "Not A Type"})])
    assert preview.rules[0].actions[0].error.startswith("invalid params after rendering: type:")


def test_zoned_now_and_event_time_reach_cel_as_utc(project: Path) -> None:
    from zoneinfo import ZoneInfo

    write(project / "rules/r.yaml", """
        rules:
          - id: late
            on: x.y
            if: now > event.at
            do: [{event.emit: {type: a.b}}]
        """)
    runner = DryRun(load_ruleset(["rules"], "templates"), TemplateStore("templates"), {})
    zoned = datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))
    event = Event(type="x.y", at=datetime(2026, 12, 1, 11, 0, tzinfo=UTC))
    (preview,) = runner.run([event], zoned)
    assert preview.rules[0].matched is True  # 09:00 in São Paulo is 12:00 UTC
