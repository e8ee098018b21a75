"""The scopes a client may hold, one per endpoint group; ``admin`` holds them all."""

from __future__ import annotations

from collections.abc import Iterable

ADMIN = "admin"

SCOPES: dict[str, str] = {
    "events:write": "POST /v1/events",
    "events:read": "read the event log",
    "customers:read": "list and read customers",
    "customers:write": "create, change and delete customers",
    "technicians:read": "list and read technicians",
    "technicians:write": "create, change and delete technicians",
    "orders:read": "list and read service orders and appointments",
    "orders:write": "create and change service orders and appointments, transitions, assignment",
    "billing:read": "list and read invoices and payments",
    "billing:write": "issue invoices, record payments",
    "rules:read": "read the loaded rules",
    "runs:read": "read rule runs, their steps and notifications",
    "deadletters:read": "list dead letters",
    "deadletters:write": "retry or discard dead letters",
    "backups:read": "list backups",
    "suppressions:read": "list the suppression list (addresses masked)",
    "suppressions:write": "add to and remove from the suppression list",
    "consent:read": "read a customer's marketing consent per channel, with its history (the proof)",
    "consent:write": "record a customer's consent decision (granted or withdrawn) with its proof",
    "metrics:read": "GET /metrics when it is not public",
    "privacy:admin": "subjects' requests and rights: export, correct, anonymise, processors, access log; "
                     "the incident register",
    "ops:read": "the details of GET /ready (database, broker and connector checks)",
    ADMIN: "everything",
}


def grants(granted: Iterable[str], needed: str) -> bool:
    held = set(granted)
    return needed in held or ADMIN in held
