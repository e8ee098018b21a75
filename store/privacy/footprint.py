"""Where a person's data is: the rows that belong to a customer, found once for every right.

Export, anonymisation and the list of processors all start from here, so they cannot
disagree about what "the person's data" is. Events are found by the ids their payloads
carry (``data.customer.id``) and, for inbound WhatsApp messages from an unknown sender,
by the sender's number; runs by those events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel import Session, col, or_, select

from store.json_text import JsonText
from store.models import (
    Appointment,
    AuditLogEntry,
    CalendarLink,
    ConsentRecord,
    Customer,
    DeadLetter,
    Event,
    Invoice,
    Notification,
    Payment,
    PrivacyRequest,
    RuleRun,
    RuleStep,
    ServiceOrder,
    Suppression,
    WhatsAppConversation,
    WhatsAppMessage,
)
from store.models.accounting import AccountingSyncAudit, AccountingSyncRecord


@dataclass
class Footprint:
    customer: Customer
    orders: Sequence[ServiceOrder] = ()
    appointments: Sequence[Appointment] = ()
    invoices: Sequence[Invoice] = ()
    payments: Sequence[Payment] = ()
    notifications: Sequence[Notification] = ()
    conversations: Sequence[WhatsAppConversation] = ()
    whatsapp_messages: Sequence[WhatsAppMessage] = ()
    events: Sequence[Event] = ()
    runs: Sequence[RuleRun] = ()
    steps: Sequence[RuleStep] = ()
    dead_letters: Sequence[DeadLetter] = ()
    calendar_links: Sequence[CalendarLink] = ()
    accounting_records: Sequence[AccountingSyncRecord] = ()
    accounting_audit: Sequence[AccountingSyncAudit] = ()
    audit: Sequence[AuditLogEntry] = ()
    requests: Sequence[PrivacyRequest] = ()
    consents: Sequence[ConsentRecord] = ()
    suppressions: Sequence[Suppression] = ()

    def entity_ids(self) -> dict[str, list[str]]:
        """Each kind of record's ids (what accounting sync records and audit entries point at)."""
        return {"customer": [self.customer.id], "service_order": [o.id for o in self.orders],
                "invoice": [i.id for i in self.invoices], "payment": [p.id for p in self.payments],
                "appointment": [a.id for a in self.appointments]}


def find_footprint(session: Session, customer: Customer) -> Footprint:
    cid = customer.id
    orders = session.exec(select(ServiceOrder).where(ServiceOrder.customer_id == cid)
                          .order_by(col(ServiceOrder.created_at))).all()
    order_ids = [o.id for o in orders]
    appointments = _in(session, Appointment, col(Appointment.order_id), order_ids, col(Appointment.starts_at))
    invoices = _in(session, Invoice, col(Invoice.order_id), order_ids, col(Invoice.issued_at))
    payments = _in(session, Payment, col(Payment.invoice_id), [i.id for i in invoices], col(Payment.paid_at))
    notifications = session.exec(select(Notification).where(Notification.customer_id == cid)
                                 .order_by(col(Notification.created_at))).all()
    owners = [col(WhatsAppConversation.customer_id) == cid]
    if customer.phone:
        owners.append(col(WhatsAppConversation.phone) == customer.phone)
    conversations = session.exec(select(WhatsAppConversation).where(or_(*owners))).all()
    messages = _in(session, WhatsAppMessage, col(WhatsAppMessage.conversation_id),
                   [c.id for c in conversations], col(WhatsAppMessage.created_at))
    events = _events(session, customer)
    runs = _in(session, RuleRun, col(RuleRun.event_id), [e.id for e in events], col(RuleRun.created_at))
    steps = _in(session, RuleStep, col(RuleStep.run_id), [r.id for r in runs], col(RuleStep.created_at))
    dead_letters = _in(session, DeadLetter, col(DeadLetter.step_id), [s.id for s in steps],
                       col(DeadLetter.created_at))
    links = _in(session, CalendarLink, col(CalendarLink.appointment_id), [a.id for a in appointments],
                col(CalendarLink.created_at))
    footprint = Footprint(customer, orders, appointments, invoices, payments, notifications, conversations,
                          messages, events, runs, steps, dead_letters, links)
    ids = [i for group in footprint.entity_ids().values() for i in group]
    footprint.accounting_records = _in(session, AccountingSyncRecord,
                                       col(AccountingSyncRecord.entity_id), ids,
                                       col(AccountingSyncRecord.created_at))
    footprint.accounting_audit = _in(session, AccountingSyncAudit, col(AccountingSyncAudit.entity_id), ids,
                                     col(AccountingSyncAudit.at))
    footprint.audit = _audit(session, footprint.entity_ids())
    footprint.requests = session.exec(select(PrivacyRequest).where(PrivacyRequest.customer_id == cid)
                                      .order_by(col(PrivacyRequest.requested_at))).all()
    footprint.consents = session.exec(select(ConsentRecord).where(ConsentRecord.customer_id == cid)
                                      .order_by(col(ConsentRecord.recorded_at))).all()
    footprint.suppressions = _suppressions(session, customer)
    return footprint


def _in(session: Session, model: type, column: sa.ColumnElement[str], ids: Sequence[str],
        order: sa.ColumnElement[object]) -> list:
    """Rows whose ``column`` is one of ``ids``, in chunks (SQLite caps the bound parameters)."""
    rows: list = []
    for start in range(0, len(ids), 500):
        chunk = list(ids[start:start + 500])
        rows.extend(session.exec(select(model).where(column.in_(chunk)).order_by(order)).all())
    return rows


def _audit(session: Session, ids: dict[str, list[str]]) -> list[AuditLogEntry]:
    """Entries about each kind of record, by (entity_type, entity_id): the audit log's own index."""
    rows: list[AuditLogEntry] = []
    for kind, kind_ids in ids.items():
        for start in range(0, len(kind_ids), 500):
            chunk = kind_ids[start:start + 500]
            rows.extend(session.exec(select(AuditLogEntry).where(AuditLogEntry.entity_type == kind,
                                                                 col(AuditLogEntry.entity_id).in_(chunk))).all())
    return sorted(rows, key=lambda e: (e.at, e.id))


def _events(session: Session, customer: Customer) -> list[Event]:
    """Through the expression indexes ``ix_events_payload_customer_id`` and ``ix_events_payload_from``."""
    payload = Event.__table__.c.payload
    mentions = [JsonText(payload, "customer", "id") == customer.id]
    if customer.phone:
        mentions.append(JsonText(payload, "from") == customer.phone)
    return list(session.exec(select(Event).where(or_(*mentions)).order_by(col(Event.occurred_at))).all())


def _suppressions(session: Session, customer: Customer) -> Sequence[Suppression]:
    """The suppression list keeps addresses, not customers: the rows for the customer's phone or email."""
    addresses = [value for value in (customer.phone, (customer.email or "").lower()) if value]
    if not addresses:
        return []
    return session.exec(select(Suppression).where(col(Suppression.address).in_(addresses))
                        .order_by(col(Suppression.created_at))).all()
