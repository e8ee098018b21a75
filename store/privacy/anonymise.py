"""Anonymising a person (LGPD art. 18 IV, VI): what tax law requires stays, the rest goes.

Kept, untouched: invoices and payments (numbers, amounts, dates, statuses, the accounting
systems' ids) — tax law requires them for 5 years (CTN art. 173 and 174) — and the
customer's CPF/CNPJ while any of their invoices is younger than that, because it is the
fiscal identity those invoices were issued to; the retention purge clears it afterwards.
Also kept: amounts, statuses and dates of orders and visits (no personal data), and the
privacy request register itself (the proof the request was served).

Anonymised: the customer's name, email, phone, address; orders' addresses and descriptions;
visits' notes; message bodies, subjects and recipients; WhatsApp conversations (deleted: the
phone number is their key); the personal fields of event payloads; the person's identifiers
wherever else they appear as text (run context and traces, step params and errors, dead
letters, calendar and accounting records, audit details).

Open orders (not completed or cancelled) make it refuse, unless forced: serving them needs
the address and the phone, and anonymising in the middle of a service breaks the contract
being executed (art. 7 V); forced, the technician loses the address.

Running it again changes nothing and reports zero rows: the identifiers are gone.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from store.audit import record_action
from store.errors import ValidationFailed
from store.lifecycle import TERMINAL_STATUSES
from store.models import CalendarConflict, Customer, WhatsAppMessage
from store.models.base import Record
from store.privacy.footprint import Footprint, find_footprint
from store.privacy.scrub import ANONYMOUS_NAME, PLACEHOLDER, Scrubber, anonymise_payload, identifiers
from store.privacy.settings import FISCAL_MINIMUM
from store.types import utcnow

CLEARED_CUSTOMER_FIELDS = ("email", "phone", "address", "city", "state", "postal_code")


class OpenOrders(ValidationFailed):
    def __init__(self, ids: list[str]) -> None:
        shown = ", ".join(ids[:5]) + (" ..." if len(ids) > 5 else "")
        super().__init__("person", f"has {len(ids)} open service order(s) ({shown}); complete or cancel "
                                   "them first, or force it (the technician loses the address)")
        self.ids = ids


@dataclass
class Anonymised:
    customer_id: str
    changed: Counter[str] = field(default_factory=Counter)
    deleted: Counter[str] = field(default_factory=Counter)
    tax_id_kept_until: datetime | None = None
    forced: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {"customer_id": self.customer_id, "changed": dict(self.changed), "deleted": dict(self.deleted),
                "tax_id_kept_until": self.tax_id_kept_until.isoformat() if self.tax_id_kept_until else None,
                "forced": self.forced}


def is_anonymised(customer: Customer) -> bool:
    return customer.name == ANONYMOUS_NAME and not any(getattr(customer, f) for f in CLEARED_CUSTOMER_FIELDS)


def anonymise_subject(session: Session, customer: Customer, *, actor: str, force: bool = False,
                      now: datetime | None = None) -> Anonymised:
    at = now or utcnow()
    footprint = find_footprint(session, customer)
    live = [o.id for o in footprint.orders if o.status not in TERMINAL_STATUSES]
    if live and not force and not is_anonymised(customer):
        raise OpenOrders(live)
    result = Anonymised(customer.id, forced=bool(live) and force)
    newest_invoice = max((i.issued_at for i in footprint.invoices), default=None)
    keep_tax_id = newest_invoice is not None and newest_invoice + FISCAL_MINIMUM > at
    if keep_tax_id and newest_invoice is not None:
        result.tax_id_kept_until = newest_invoice + FISCAL_MINIMUM
    scrubber = Scrubber(identifiers(name=None if is_anonymised(customer) else customer.name,
                                    email=customer.email, phone=customer.phone,
                                    addresses=[customer.address, *(o.address for o in footprint.orders)],
                                    tax_id=None if keep_tax_id else customer.tax_id))
    phone = customer.phone
    _anonymise_rows(session, footprint, scrubber, phone, result)
    _anonymise_customer(customer, keep_tax_id, at, result)
    session.add(customer)
    session.flush()
    record_action(session, actor, "privacy.anonymise", entity_type="customer", entity_id=customer.id,
                  details=result.to_dict())
    return result


def _anonymise_customer(customer: Customer, keep_tax_id: bool, at: datetime, result: Anonymised) -> None:
    values: dict[str, Any] = {"name": ANONYMOUS_NAME, **dict.fromkeys(CLEARED_CUSTOMER_FIELDS)}
    if not keep_tax_id:
        values["tax_id"] = None
    if _assign(customer, values, result, "customers") and customer.deleted_at is None:
        customer.deleted_at = at  # gone from every list and GET, as a deleted customer


def _anonymise_rows(session: Session, fp: Footprint, scrub: Scrubber, phone: str | None,
                    result: Anonymised) -> None:
    cid = fp.customer.id
    for order in fp.orders:
        _assign(order, {"address": None, "description": "", "status_reason": _opt(scrub,
                                                                                  order.status_reason)},
                result, "service_orders")
    for visit in fp.appointments:
        _assign(visit, {"notes": None}, result, "appointments")
    for note in fp.notifications:
        _assign(note, {"recipient": PLACEHOLDER, "subject": None, "body": "",
                       "error_message": _opt(scrub, note.error_message),
                       "status_history": scrub.walk(note.status_history)}, result, "notifications")
    for message in fp.whatsapp_messages:
        session.delete(message)
        result.deleted["whatsapp_messages"] += 1
    session.flush()
    for conversation in fp.conversations:
        if session.exec(select(WhatsAppMessage.id).where(WhatsAppMessage.conversation_id == conversation.id)
                        .limit(1)).first() is None:
            session.delete(conversation)
            result.deleted["whatsapp_conversations"] += 1
    for event in fp.events:
        _assign(event, {"payload": anonymise_payload(event.payload, cid, phone, scrub)}, result, "events")
    for run in fp.runs:
        _assign(run, {"context": scrub.walk(run.context), "trace": scrub.walk(run.trace)}, result,
                "rule_runs")
    for step in fp.steps:
        _assign(step, {"params": scrub.walk(step.params), "output": scrub.walk(step.output),
                       "last_error": _opt(scrub, step.last_error)}, result, "rule_steps")
    for letter in fp.dead_letters:
        _assign(letter, {"params": scrub.walk(letter.params), "error": scrub.text(letter.error)},
                result, "dead_letters")
    for link in fp.calendar_links:
        _assign(link, {"synced_version": scrub.walk(link.synced_version)}, result, "calendar_links")
    visit_ids = [a.id for a in fp.appointments]
    for start in range(0, len(visit_ids), 500):
        for conflict in session.exec(select(CalendarConflict).where(
                col(CalendarConflict.appointment_id).in_(visit_ids[start:start + 500]))).all():
            _assign(conflict, {"ours": scrub.walk(conflict.ours), "theirs": scrub.walk(conflict.theirs)},
                    result, "calendar_conflicts")
    for record in fp.accounting_records:
        _assign(record, {"synced_fields": scrub.walk(record.synced_fields),
                         "last_error": _opt(scrub, record.last_error)}, result, "accounting_records")
    for entry in fp.accounting_audit:
        _assign(entry, {"request": scrub.walk(entry.request), "response": scrub.walk(entry.response),
                        "diff": scrub.walk(entry.diff), "error": _opt(scrub, entry.error)},
                result, "accounting_audit")
    for audit in fp.audit:
        _assign(audit, {"details": scrub.walk(audit.details)}, result, "audit_log")


def _opt(scrub: Scrubber, value: str | None) -> str | None:
    return scrub.text(value) if value else value


def _assign(record: Record, values: dict[str, Any], result: Anonymised, table: str) -> bool:
    changed = False
    for name, value in values.items():
        if getattr(record, name) != value:
            setattr(record, name, value)
            changed = True
    if changed:
        result.changed[table] += 1
    return changed
