"""Whose clock: the recipient of an event's data, their zone, and the ``recipient`` variable."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.language.conditions import RULE_VARIABLES, compile_condition
from engine.language.context import EvaluationContext
from engine.language.events import Event
from engine.language.recipients import recipient_zone
from engine.language.templating import TemplateString
from store.models import Customer, Technician
from store.payloads import record_data

CONFIG = {"timezone": "America/Sao_Paulo", "company": {}}
LATE_UTC = datetime(2026, 12, 2, 0, 30, tzinfo=UTC)  # 21:30 in São Paulo, 20:30 in Manaus


def data(customer_zone: str | None = "America/Manaus", technician_zone: str = "America/Recife") -> dict:
    customer = Customer(name="Ana Lima", phone="+5592987654321", time_zone=customer_zone)
    technician = Technician(name="João Pereira", region="am-centro", time_zone=technician_zone)
    return {"customer": record_data("customer", customer),
            "technician": record_data("technician", technician)}


def test_the_customer_is_the_recipient_else_the_technician() -> None:
    assert recipient_zone(data(), None, "UTC").zone == "America/Manaus"
    assert recipient_zone({"technician": data()["technician"]}, None, "UTC").zone == "America/Recife"
    assert recipient_zone(data(), "technician", "UTC").zone == "America/Recife"
    assert recipient_zone({"order": {"id": "o1"}}, None, "UTC") == recipient_zone({}, None, "UTC")


def test_an_unusable_zone_falls_back_with_the_reason() -> None:
    for bad, shown in (("Mars/Olympus", "'Mars/Olympus'"), (42, "42"),
                       ("../../etc/passwd", "'../../etc/passwd'"), ("x" * 5000, "'xxxx")):
        found = recipient_zone({"customer": {"time_zone": bad}}, None, "America/Belem")
        assert (found.zone, found.role) == ("America/Belem", None)
        assert found.problem is not None and found.problem.startswith(f"customer time_zone {shown}")
        assert len(found.problem) < 150
    assert recipient_zone(data(customer_zone=None), None, "UTC").problem is None


def test_conditions_read_the_recipients_local_clock() -> None:
    errors: list = []
    daytime = compile_condition('recipient.time >= "08:00" && recipient.time < "21:00"', ("if",),
                                RULE_VARIABLES, errors)
    assert errors == []
    manaus = EvaluationContext(Event(type="a.b", data=data("America/Manaus")), CONFIG, LATE_UTC)
    sao_paulo = EvaluationContext(Event(type="a.b", data=data("America/Sao_Paulo")), CONFIG, LATE_UTC)
    assert daytime.holds(manaus.cel) and not daytime.holds(sao_paulo.cel)
    assert manaus.variables["recipient"] == {"time_zone": "America/Manaus", "now": "2026-12-01T20:30-04:00",
                                             "time": "20:30", "weekday": 2}


def test_templates_show_the_recipients_time() -> None:
    context = EvaluationContext(Event(type="a.b", data=data("America/Manaus")), CONFIG, LATE_UTC)
    text = TemplateString("{{ now | hora_br(recipient.time_zone) }} ({{ recipient.time_zone }})")
    assert text.render(context.for_actions("r", {})) == "20:30 (America/Manaus)"


def test_without_a_recipient_the_configured_zone_is_the_clock() -> None:
    config = {"timezone": "America/Recife"}
    context = EvaluationContext(Event(type="ops.backup_due", data={}), config, LATE_UTC)
    assert context.variables["recipient"]["time_zone"] == "America/Recife"
    assert context.variables["recipient"]["time"] == "21:30"
