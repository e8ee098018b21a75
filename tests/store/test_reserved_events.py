"""Every internal producer's types, sources and ids are reserved; what integrations send is not."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from api.webhooks.twilio import INBOUND_EVENT
from engine.language.events import Event
from engine.language.loader import load_ruleset
from engine.runtime.followups import FOLLOWUP_TYPES
from engine.runtime.scheduled import fire_events
from store.eventlog import DOMAIN_SOURCE
from store.reserved_events import reserved_id, reserved_source, reserved_type

RULES = """
rules:
  - id: overdue-scan
    on: {cron: "0 9 * * *", for_each: invoices.overdue}
    do:
      - log.write: {message: hi}
"""


def test_the_schedulers_events_are_reserved_by_type_source_and_id(tmp_path: Path) -> None:
    (tmp_path / "rules.yaml").write_text(RULES, encoding="utf-8")
    (tmp_path / "templates").mkdir()
    rule = load_ruleset([tmp_path / "rules.yaml"], tmp_path / "templates").by_id["overdue-scan"]
    at = datetime(2026, 12, 1, 9, 0, tzinfo=ZoneInfo("America/Sao_Paulo"))
    claim, evaluations = fire_events(rule, rule.schedules[0], at, [{"invoice": {"id": "inv-1"}}])
    for event in (claim, *evaluations):
        assert reserved_type(event.type) and reserved_source(event.source) and reserved_id(event.id)


def test_the_engines_follow_ups_and_the_twilio_webhook_are_reserved() -> None:
    for event_type in (*FOLLOWUP_TYPES, INBOUND_EVENT):
        assert reserved_type(event_type), event_type
        assert reserved_id(f"{event_type}:0b6f2c1e") or event_type == INBOUND_EVENT
    assert reserved_id("SM" + "0123456789abcdef" * 2)  # Twilio's MessageSid, the inbound event's id
    assert reserved_source("twilio")


@pytest.mark.parametrize("source", [DOMAIN_SOURCE, "scheduler", "cli", Event.model_fields["source"].default,
                                    "rule", "rule:invoice-overdue-10d-escalate", "asaas"])
def test_sources_of_despachos_own_producers_are_reserved(source: str) -> None:
    assert reserved_source(source)


@pytest.mark.parametrize("event_id", ["invoice.overdue:5a7c9e1b:2026-12-01", "emit:r1:e1:0"])
def test_ids_of_the_overdue_job_and_event_emit_are_reserved(event_id: str) -> None:
    assert reserved_id(event_id)


@pytest.mark.parametrize("value", ["evt-1", "order-123@erp", "2026-12-01T02:00:00", "sm-1"])
def test_ordinary_integration_ids_are_not_reserved(value: str) -> None:
    assert reserved_id(value) is None


@pytest.mark.parametrize("value", ["service_order.completed", "invoice.paid", "appointment.reminder_due"])
def test_domain_event_types_are_left_to_each_clients_allow_list(value: str) -> None:
    assert reserved_type(value) is None
