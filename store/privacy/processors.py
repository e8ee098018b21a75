"""To whom a person's data went (LGPD art. 18 VII): the processors, with when and how often.

Derived from what despacho already records, never from the configuration (which says where
data would go today, not where it went):

- notifications: ``twilio`` (SMS, WhatsApp) and ``smtp`` (email) as their ``provider``;
  ``file`` is the local outbox folder, no third party;
- calendar links: the visit's event in Google Calendar;
- accounting sync records: the customer, their invoices and payments in Asaas, Omie, Conta Azul;
- rule steps of ``http.*`` actions run for events about the person: the host called.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlmodel import Session

from store.models import Customer
from store.privacy.footprint import Footprint, find_footprint

PROVIDERS = {"twilio": "Twilio", "smtp": "SMTP server (email)"}
SYSTEMS = {"asaas": "Asaas", "omie": "Omie", "conta_azul": "Conta Azul"}
LOCAL_PROVIDERS = ("file",)
SENT_STEP_STATUSES = ("running", "succeeded", "dead")


@dataclass
class ProcessorUse:
    processor: str
    purpose: str
    first_at: datetime | None
    last_at: datetime | None
    count: int
    records: str

    def to_dict(self) -> dict[str, Any]:
        return {"processor": self.processor, "purpose": self.purpose, "count": self.count,
                "first_at": self.first_at.isoformat() if self.first_at else None,
                "last_at": self.last_at.isoformat() if self.last_at else None, "records": self.records}


def subject_processors(session: Session, customer: Customer) -> list[ProcessorUse]:
    return processors_of(find_footprint(session, customer))


def processors_of(footprint: Footprint) -> list[ProcessorUse]:
    uses: dict[tuple[str, str], list[datetime | None]] = {}
    records: dict[tuple[str, str], str] = {}

    def add(processor: str, purpose: str, when: datetime | None, source: str) -> None:
        uses.setdefault((processor, purpose), []).append(when)
        records[(processor, purpose)] = source

    for note in footprint.notifications:
        if note.provider and note.provider not in LOCAL_PROVIDERS:
            name = PROVIDERS.get(note.provider, note.provider)
            add(name, f"{note.channel} messages", note.sent_at or note.created_at, "notifications")
    for link in footprint.calendar_links:
        add("Google (Calendar)", "visits on the technicians' calendars", link.synced_at or link.created_at,
            "calendar_links")
    for record in footprint.accounting_records:
        if record.status == "synced" or record.attempts > 0 or record.external_id:
            add(SYSTEMS.get(record.system, record.system), f"{record.entity_type} records",
                record.synced_at or record.created_at, "accounting_sync_records")
    for step in footprint.steps:
        if step.action.startswith("http.") and step.status in SENT_STEP_STATUSES:
            host = urlsplit(str(step.params.get("url", ""))).hostname or "(a rule's HTTP endpoint)"
            add(host, f"{step.action} in rule runs", step.started_at or step.created_at, "rule_steps")
    return sorted((_use(key, times, records[key]) for key, times in uses.items()),
                  key=lambda u: (u.processor, u.purpose))


def _use(key: tuple[str, str], times: list[datetime | None], source: str) -> ProcessorUse:
    known = sorted(t for t in times if t is not None)
    return ProcessorUse(key[0], key[1], known[0] if known else None, known[-1] if known else None,
                        len(times), source)
