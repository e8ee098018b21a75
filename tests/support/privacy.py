"""A person with data in every place despacho keeps it, on top of the demo company.

Domain records and their events go through the store's own functions (so payloads have
the real shapes); the integration records (a message sent through Twilio, a WhatsApp
conversation, a run whose step called a webhook, a calendar link, an accounting sync) are
written as the connectors write them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session, select

from store.audit import record_action
from store.billing import issue_invoice, record_payment
from store.db import session_scope
from store.models import (
    Appointment,
    CalendarLink,
    Customer,
    DeadLetter,
    Notification,
    RuleRun,
    RuleStep,
    ServiceOrder,
    WhatsAppConversation,
    WhatsAppMessage,
)
from store.models.accounting import AccountingSyncRecord
from store.seed import demo_tax_id, seed_demo
from store.service_orders import create_order, set_status

PHONE, EMAIL, NAME = "+5511987654321", "maria.privacidade@example.com", "Maria Privacidade Souza"


@dataclass(frozen=True)
class World:
    customer_id: str
    other_id: str  # another demo customer, whose data must stay untouched
    order_id: str
    invoice_id: str
    payment_id: str
    notification_id: str
    event_ids: tuple[str, ...]


def build_world(engine: sa.Engine, at: datetime, *, closed: bool = True) -> World:
    """The demo company (small) plus Maria, with an order (completed when ``closed``), an invoice
    paid, a WhatsApp message, a message sent through Twilio and one through SMTP, a run with a
    webhook call and a dead letter, a calendar link and an Omie record."""
    with session_scope(engine) as session:
        seed_demo(session, at=at - timedelta(days=1), customers=20, technicians=4, orders=150)
    with session_scope(engine) as session:
        other = session.exec(select(Customer).order_by(Customer.id)).first()
        assert other is not None
        customer = Customer(name=NAME, phone=PHONE, email=EMAIL, address="Rua das Flores, 123 - Centro",
                            city="São Paulo", state="SP", postal_code="01000-000")
        customer.tax_id = demo_tax_id(customer.id, company=False)
        session.add(customer)
        session.flush()
        order = create_order(session, customer_id=customer.id, region="sp-centro", at=at - timedelta(days=3),
                             description=f"Trocar tomada; ligar para {NAME} antes", address=customer.address,
                             amount="180.00")
        visit = Appointment(order_id=order.id, starts_at=at - timedelta(days=2),
                            ends_at=at - timedelta(days=2, hours=-1), notes="portão azul, falar com Maria")
        session.add(visit)
        session.flush()
        if closed:
            order.status = "completed"
            order.completed_at = at - timedelta(days=2)
        invoice = issue_invoice(session, order.id, "180.00", date(2026, 12, 20), at=at - timedelta(days=2))
        payment = record_payment(session, invoice.id, "180.00", "pix", paid_at=at - timedelta(days=1))
        ids = (customer.id, other.id, order.id, invoice.id, payment.id, visit.id)
    with session_scope(engine) as session:
        return _integrations(session, at, *ids)


def _integrations(session: Session, at: datetime, customer_id: str, other_id: str, order_id: str,
                  invoice_id: str, payment_id: str, visit_id: str) -> World:
    from store.models import Event

    events = session.exec(select(Event).order_by(Event.occurred_at)).all()
    first = events[0]
    run = RuleRun(rule_id="notify-customer", event_id=first.id, status="succeeded", created_at=at,
                  finished_at=at, context={"data": first.payload})
    session.add(run)
    session.flush()
    step = RuleStep(run_id=run.id, action="http.post", idempotency_key=f"k-{run.id}", status="dead",
                    params={"url": "https://erp.example.com/hook", "json": {"phone": PHONE, "name": NAME}},
                    last_error=f"422 from erp: phone {PHONE} unknown", started_at=at)
    sms = RuleStep(run_id=run.id, action="whatsapp.send", idempotency_key=f"w-{run.id}", status="succeeded",
                   params={"to": PHONE, "template": "lembrete"}, position=1, started_at=at)
    session.add_all([step, sms])
    session.flush()
    session.add(DeadLetter(step_id=step.id, rule_id=run.rule_id, event_id=first.id, action=step.action,
                           params=step.params, error=step.last_error or ""))
    note = Notification(step_id=sms.id, customer_id=customer_id, channel="whatsapp", recipient=PHONE,
                        template="lembrete", body=f"Olá {NAME}, sua visita é amanhã.", provider="twilio",
                        provider_id=f"SM{run.id[:8]}", status="delivered", sent_at=at)
    mail = Notification(customer_id=customer_id, channel="email", recipient="maria.privacidade@example.com",
                        subject="Sua fatura", body="Olá Maria", provider="smtp", status="sent", sent_at=at)
    local = Notification(customer_id=customer_id, channel="sms", recipient=PHONE, body="teste",
                         provider="file", status="sent", sent_at=at)
    session.add_all([note, mail, local])
    session.flush()
    conversation = WhatsAppConversation(phone=PHONE, customer_id=customer_id, last_inbound_at=at)
    session.add(conversation)
    session.flush()
    session.add(WhatsAppMessage(conversation_id=conversation.id, direction="inbound", body="Pode vir às 14h?",
                                provider_id=f"SMin{run.id[:8]}", created_at=at))
    session.add(CalendarLink(appointment_id=visit_id, calendar_id="tecnico@example.com",
                             google_event_id="evt123", synced_at=at,
                             synced_version={"summary": f"Visita: {NAME}",
                                             "location": "Rua das Flores, 123"}))
    session.add(AccountingSyncRecord(system="omie", entity_type="customer", entity_id=customer_id,
                                     external_id="OM-1", integration_code=f"c-{customer_id}", status="synced",
                                     synced_at=at, synced_fields={"nome": NAME, "email": EMAIL}))
    record_action(session, "api_client:erp", "customer.updated", entity_type="customer",
                  entity_id=customer_id,
                  details={"phone": PHONE})
    inbound = Event(id=f"wa-{run.id}", type="whatsapp.message_received", source="twilio", occurred_at=at,
                    payload={"message_sid": "SMx", "from": PHONE, "to": "+5511900000000",
                             "body": "Pode vir às 14h?", "text": "Pode vir às 14h?", "profile_name": "Maria",
                             "num_media": 0, "conversation_id": conversation.id,
                             "customer": {"id": customer_id, "name": NAME, "phone": PHONE, "email": EMAIL}})
    session.add(inbound)
    session.flush()
    mine = [e.id for e in session.exec(select(Event)).all()
            if (e.payload.get("customer") or {}).get("id") == customer_id]
    return World(customer_id, other_id, order_id, invoice_id, payment_id, note.id, tuple(mine))


def reopen(engine: sa.Engine, order_id: str) -> None:
    with session_scope(engine) as session:
        order = session.get(ServiceOrder, order_id)
        assert order is not None
        order.status = "open"
        order.completed_at = None


__all__ = ["EMAIL", "NAME", "PHONE", "World", "build_world", "reopen", "set_status"]
