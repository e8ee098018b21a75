"""Notification rows and opt-outs: what was sent to whom, and who refused a channel.

Connectors write one ``Notification`` per step (retries update it), so a
step run again finds what it already sent. Status callbacks append to the
row's history; they can arrive out of order (``delivered`` before ``sent``),
so a status only moves forward.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, select

from store.models import Customer, Notification, RuleStep
from store.types import utcnow

# A later status never goes back to an earlier one; failures end the story.
_RANK = {"pending": 0, "sent": 1, "delivered": 2, "read": 3, "failed": 4, "undelivered": 4}
DONE_STATUSES = frozenset({"sent", "delivered", "read"})

# Twilio's message statuses, folded into the notification's
PROVIDER_STATUS = {
    "accepted": "sent", "scheduled": "sent", "queued": "sent", "sending": "sent", "sent": "sent",
    "delivered": "delivered", "read": "read", "receiving": "sent", "received": "delivered",
    "failed": "failed", "undelivered": "undelivered", "canceled": "failed",
}


def step_id_for_key(session: Session, idempotency_key: str) -> str | None:
    """The step that owns an idempotency key (steps keep it unique)."""
    return session.exec(select(RuleStep.id).where(RuleStep.idempotency_key == idempotency_key)).first()


def notification_for_step(session: Session, step_id: str, channel: str) -> Notification | None:
    statement = (select(Notification)
                 .where(Notification.step_id == step_id, Notification.channel == channel)
                 .order_by(Notification.created_at.desc()))  # type: ignore[union-attr]
    return session.exec(statement).first()


def notification_by_provider_id(session: Session, provider: str, provider_id: str) -> Notification | None:
    statement = select(Notification).where(Notification.provider == provider,
                                           Notification.provider_id == provider_id)
    return session.exec(statement).first()


def append_status(notification: Notification, status: str, *, detail: str | None = None,
                  error_code: str | None = None, at: datetime | None = None,
                  provider_status: str | None = None) -> bool:
    """Add a history entry; move ``status`` only forward. Returns whether the status changed."""
    moment = at or utcnow()
    entry: dict[str, Any] = {"status": provider_status or status, "at": moment.isoformat()}
    if detail:
        entry["detail"] = detail
    if error_code:
        entry["error_code"] = error_code
    # a new list, not append(): the JSON column notices reassignment only
    notification.status_history = [*notification.status_history, entry]
    if _RANK.get(status, 0) < _RANK.get(notification.status, 0):
        return False
    changed = status != notification.status
    notification.status = status
    if error_code:
        notification.error_code = error_code
        notification.error_message = (detail or "")[:2000] or None
    if status == "sent" and notification.sent_at is None:
        notification.sent_at = moment
    if status in ("delivered", "read") and notification.delivered_at is None:
        notification.delivered_at = moment
    return changed


def apply_provider_status(session: Session, provider: str, provider_id: str, provider_status: str, *,
                          error_code: str | None = None, detail: str | None = None,
                          at: datetime | None = None) -> Notification | None:
    """A delivery callback: find the row by provider id and record the status; None if unknown."""
    notification = notification_by_provider_id(session, provider, provider_id)
    if notification is None:
        return None
    status = PROVIDER_STATUS.get(provider_status.lower(), "sent")
    append_status(notification, status, detail=detail, error_code=error_code, at=at,
                  provider_status=provider_status.lower())
    session.add(notification)
    return notification


# --- customers and opt-outs ----------------------------------------------------------------------

def customer_by_phone(session: Session, phone: str) -> Customer | None:
    statement = select(Customer).where(Customer.phone == phone, Customer.deleted_at.is_(None))  # type: ignore[union-attr]
    return session.exec(statement).first()


def customer_by_email(session: Session, email: str) -> Customer | None:
    # addresses are stored normalised (lower-case domain); people type the local part as they like
    statement = select(Customer).where(Customer.email.ilike(email.strip()),  # type: ignore[union-attr]
                                       Customer.deleted_at.is_(None))  # type: ignore[union-attr]
    return session.exec(statement).first()


def is_opted_out(customer: Customer | None, channel: str) -> bool:
    return customer is not None and channel in (customer.opt_outs or [])


def mark_opted_out(session: Session, customer: Customer, channel: str) -> bool:
    """Record that the customer refused a channel; False when it was already recorded."""
    if channel in (customer.opt_outs or []):
        return False
    customer.opt_outs = [*(customer.opt_outs or []), channel]
    session.add(customer)
    return True
