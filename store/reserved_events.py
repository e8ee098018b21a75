"""Events only despacho itself produces: their types, sources and id shapes, which no API client may send.

The scheduler, the follow-ups of a run (``action.failed``, ``run.completed``),
the daily overdue-invoice job, ``event.emit`` and Twilio's signed webhook all
store events whose type, source or id a client could otherwise forge: a
forged ``whatsapp.message_received`` passes for a customer's message, an id
stored first makes the real event a redelivery and cancels it. The intake of
``POST /v1/events`` refuses anything listed here; a producer that adds an
internal type, source or id shape adds it here (tests pin the producers
against this list). It lives in the store, the lowest layer, because
producers sit in every layer: the store's own records, the engine, the
connectors and the API's webhooks.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCHEDULE_EVENT_TYPE = "schedule"
SCHEDULE_SOURCE = "scheduler"

# type -> who produces it
RESERVED_TYPES: dict[str, str] = {
    SCHEDULE_EVENT_TYPE: "the scheduler",
    "action.failed": "the engine, when an action fails for good",
    "run.completed": "the engine, when a run ends",
    "whatsapp.message_received": "the Twilio webhook, whose requests are signed",
    "calendar.sync_requested": "the Google Calendar webhook, whose channels carry a secret token",
    "ops.dead_letter_spike": "the built-in alerts (engine.runtime.ops_alerts)",
    "ops.connector_failing": "the built-in alerts (engine.runtime.ops_alerts)",
    "ops.relay_backlog": "the built-in alerts (engine.runtime.ops_alerts)",
    "calendar.channel_expiring": "the built-in alerts (engine.runtime.ops_alerts)",
    "ops.rules_rejected": "the daemons, when a new rule set is refused (engine.runtime.daemon)",
    "backup.failed": "the backup connector, when a backup or its verification fails",
    "backup.missing": "the scheduler's backup watch, when no backup succeeded in time",
}

# source -> who uses it; 'rule:<id>' is event.emit's
RESERVED_SOURCES: dict[str, str] = {
    "despacho": "despacho's own records (orders, invoices, payments, follow-ups)",
    SCHEDULE_SOURCE: "the scheduler",
    "twilio": "the Twilio webhook",
    "google": "Google Calendar: its push webhook, and changes its sync applies",
    "asaas": "the Asaas webhook (payments, overdue notices, refunds)",
    "cli": "despacho emit",
    "rule": "event.emit",
}
_RULE_SOURCE = re.compile(r"^rule:")


@dataclass(frozen=True)
class IdShape:
    pattern: re.Pattern[str]
    shape: str  # as the admin reads it
    producer: str


RESERVED_IDS: tuple[IdShape, ...] = (
    IdShape(re.compile(r"@\d{4}-\d{2}-\d{2}T"), "<rule>@<fire time>", "the scheduler"),
    IdShape(re.compile(r"^action\.failed:"), "action.failed:<step>", "the engine's follow-ups"),
    IdShape(re.compile(r"^run\.completed:"), "run.completed:<run>", "the engine's follow-ups"),
    IdShape(re.compile(r"^invoice\.overdue:"), "invoice.overdue:<invoice>:<date>", "the daily overdue job"),
    IdShape(re.compile(r"^emit:"), "emit:<idempotency key>", "event.emit"),
    IdShape(re.compile(r"^backup\.missing:"), "backup.missing:<date>", "the scheduler's backup watch"),
    IdShape(re.compile(r"^calendar\.sync_requested:"), "calendar.sync_requested:<channel>:<message number>",
            "the Google Calendar webhook"),
    IdShape(re.compile(r"^(ops\.[a-z_]+|calendar\.channel_expiring):"), "<alert>:<subject>:<hour>",
            "the built-in alerts"),
    # Twilio's MessageSid: the webhook stores the inbound message under it
    IdShape(re.compile(r"^[A-Z]{2}[0-9a-fA-F]{32}$"), "a Twilio SID (SM + 32 hex digits)",
            "the Twilio webhook"),
)


def reserved_type(event_type: str) -> str | None:
    """Who alone produces ``event_type``; ``None`` when anyone allowed may send it."""
    return RESERVED_TYPES.get(event_type)


def reserved_source(source: str) -> str | None:
    if _RULE_SOURCE.match(source):
        return RESERVED_SOURCES["rule"]
    return RESERVED_SOURCES.get(source)


def reserved_id(event_id: str) -> IdShape | None:
    return next((shape for shape in RESERVED_IDS if shape.pattern.search(event_id)), None)
