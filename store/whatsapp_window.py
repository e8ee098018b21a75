"""The WhatsApp 24-hour customer-service window, kept in the conversation rows.

WhatsApp lets a business send free text only within 24 hours of the
customer's last message; outside it only an approved template goes out. The
window opens with each inbound message (``last_inbound_at``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, select

from store.models import Customer, WhatsAppConversation, WhatsAppMessage
from store.types import utcnow

WINDOW = timedelta(hours=24)


def conversation(session: Session, phone: str) -> WhatsAppConversation | None:
    return session.exec(select(WhatsAppConversation).where(WhatsAppConversation.phone == phone)).first()


def conversation_or_new(session: Session, phone: str) -> WhatsAppConversation:
    found = conversation(session, phone)
    if found is not None:
        return found
    customer = session.exec(select(Customer.id).where(Customer.phone == phone)).first()
    created = WhatsAppConversation(phone=phone, customer_id=customer)
    session.add(created)
    return created


def window_open(found: WhatsAppConversation | None, now: datetime | None = None) -> bool:
    """Whether free text may be sent now."""
    if found is None or found.last_inbound_at is None:
        return False
    return (now or utcnow()) - found.last_inbound_at < WINDOW


def window_closes_at(found: WhatsAppConversation | None) -> datetime | None:
    if found is None or found.last_inbound_at is None:
        return None
    return found.last_inbound_at + WINDOW


def record_inbound(session: Session, phone: str, body: str, provider_id: str, *,
                   at: datetime | None = None) -> tuple[WhatsAppMessage, bool]:
    """Store an inbound message and open the window; (message, False) for a redelivered webhook."""
    existing = session.exec(select(WhatsAppMessage).where(WhatsAppMessage.provider_id == provider_id)).first()
    if existing is not None:
        return existing, False
    moment = at or utcnow()
    thread = conversation_or_new(session, phone)
    if thread.last_inbound_at is None or thread.last_inbound_at < moment:
        thread.last_inbound_at = moment
    session.add(thread)
    session.flush()  # the conversation id, for a new thread
    message = WhatsAppMessage(conversation_id=thread.id, direction="inbound", body=body,
                              provider_id=provider_id, status="received", created_at=moment)
    session.add(message)
    return message, True


def record_outbound(session: Session, phone: str, *, body: str, notification_id: str | None,
                    provider_id: str | None, template: str | None = None,
                    status: str = "sent", at: datetime | None = None) -> WhatsAppMessage:
    moment = at or utcnow()
    thread = conversation_or_new(session, phone)
    thread.last_outbound_at = moment
    session.add(thread)
    session.flush()
    message = WhatsAppMessage(conversation_id=thread.id, direction="outbound", body=body,
                              notification_id=notification_id, provider_id=provider_id,
                              template=template, status=status, created_at=moment)
    session.add(message)
    return message


def update_outbound_status(session: Session, provider_id: str, status: str,
                           error_code: str | None = None) -> None:
    found = session.exec(select(WhatsAppMessage).where(WhatsAppMessage.provider_id == provider_id)).first()
    if found is not None:
        found.status = status[:20]
        if error_code:
            found.error_code = error_code
        session.add(found)


def mark_conversation_opted_out(session: Session, phone: str, at: datetime | None = None) -> None:
    thread = conversation_or_new(session, phone)
    thread.opted_out_at = at or utcnow()
    session.add(thread)


def summary(found: WhatsAppConversation | None) -> dict[str, Any]:
    closes = window_closes_at(found)
    return {"window_open": window_open(found), "window_closes_at": closes.isoformat() if closes else None}
