"""Notification rows and opt-outs: what was sent to whom, and who refused a channel.

Connectors write one ``Notification`` per step (retries update it), so a
step run again finds what it already sent. Status callbacks append to the
row's history; they can arrive out of order (``delivered`` before ``sent``),
so a status only moves forward.

The connectors' path (one lookup before a send, one write after it) uses
core statements built once (``SentBefore``, ``recipient_opt_outs``,
``save_notification``): an ORM object per message cost more than the
SMTP exchange it records.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session, col, select

from store.models import Customer, Notification, RuleStep
from store.types import new_id, utcnow

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
                 .order_by(col(Notification.created_at).desc()))
    return session.exec(statement).first()


def notification_by_provider_id(session: Session, provider: str, provider_id: str) -> Notification | None:
    statement = select(Notification).where(Notification.provider == provider,
                                           Notification.provider_id == provider_id)
    return session.exec(statement).first()


def status_change(current: Mapping[str, Any], status: str, *, detail: str | None = None,
                  error_code: str | None = None, at: datetime | None = None,
                  provider_status: str | None = None) -> dict[str, Any]:
    """The columns that adding a history entry changes on a row whose columns are ``current``.

    ``current`` needs ``status`` and ``status_history``, and ``sent_at`` and
    ``delivered_at`` when set. The status moves only forward.
    """
    moment = at or utcnow()
    entry: dict[str, Any] = {"status": provider_status or status, "at": moment.isoformat()}
    if detail:
        entry["detail"] = detail
    if error_code:
        entry["error_code"] = error_code
    # a new list, not append(): the JSON column notices reassignment only
    change: dict[str, Any] = {"status_history": [*(current["status_history"] or []), entry]}
    if _RANK.get(status, 0) < _RANK.get(current["status"], 0):
        return change
    change["status"] = status
    if error_code:
        change["error_code"] = error_code
        change["error_message"] = (detail or "")[:2000] or None
    if status == "sent" and current.get("sent_at") is None:
        change["sent_at"] = moment
    if status in ("delivered", "read") and current.get("delivered_at") is None:
        change["delivered_at"] = moment
    return change


def append_status(notification: Notification, status: str, *, detail: str | None = None,
                  error_code: str | None = None, at: datetime | None = None,
                  provider_status: str | None = None) -> bool:
    """Add a history entry; move ``status`` only forward. Returns whether the status changed."""
    before = notification.status
    current = {"status": before, "status_history": notification.status_history,
               "sent_at": notification.sent_at, "delivered_at": notification.delivered_at}
    change = status_change(current, status, detail=detail, error_code=error_code, at=at,
                           provider_status=provider_status)
    for name, value in change.items():
        setattr(notification, name, value)
    changed: bool = change.get("status", before) != before
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
    statement = select(Customer).where(col(Customer.phone) == phone, col(Customer.deleted_at).is_(None))
    return session.exec(statement).first()


def customer_by_email(session: Session, email: str) -> Customer | None:
    # addresses are stored normalised (lower-case domain); people type the local part as they like
    statement = select(Customer).where(col(Customer.email).ilike(email.strip()),
                                       col(Customer.deleted_at).is_(None))
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


# --- the connectors' path: core statements, built once -----------------------------------------

_N = Notification.__table__
_C = Customer.__table__
_S = RuleStep.__table__
_STEP_BY_KEY = sa.select(_S.c.id).where(_S.c.idempotency_key == sa.bindparam("key"))
_LAST_FOR_STEP = (sa.select(_N.c.id, _N.c.status, _N.c.provider_id, _N.c.status_history)
                  .where(_N.c.step_id == sa.bindparam("step_id"), _N.c.channel == sa.bindparam("channel"))
                  .order_by(_N.c.created_at.desc()).limit(1))
_ITEM_ROW = (sa.select(_N.c.id, _N.c.status, _N.c.provider_id, _N.c.status_history)
             .where(_N.c.id == sa.bindparam("row_id"), _N.c.channel == sa.bindparam("channel")))
_ITEM_NAMESPACE = uuid.UUID("9b3f7c1e-4d0a-5e2b-8c6f-1a2b3c4d5e6f")
_LIVE = _C.c.deleted_at.is_(None)
_OPT_OUTS = sa.select(_C.c.id, _C.c.opt_outs)
_RECIPIENT = {
    # as customer_by_email and customer_by_phone find them
    "email": _OPT_OUTS.where(_C.c.email.ilike(sa.bindparam("address")), _LIVE).limit(1),
    "phone": _OPT_OUTS.where(_C.c.phone == sa.bindparam("address"), _LIVE).limit(1),
}
_INSERT = _N.insert()
_UPDATE = _N.update().where(_N.c.id == sa.bindparam("row_id"))


@dataclass(frozen=True)
class SentBefore:
    """The notification row an earlier try of a step left."""

    id: str
    status: str
    provider_id: str | None
    status_history: list[dict[str, Any]]

    @property
    def done(self) -> bool:
        """The message went out: a step run again must not send it twice."""
        return self.status in DONE_STATUSES and bool(self.provider_id)


def item_notification_id(idempotency_key: str) -> str:
    """The row id of one call of a ``for_each`` step: the step sends several messages, so its row
    is found by the call's own key (its id derived from it), not by the step."""
    return str(uuid.uuid5(_ITEM_NAMESPACE, idempotency_key))


def step_and_earlier_try(conn: sa.Connection, step_id: str | None, idempotency_key: str,
                         channel: str, *, item: bool = False) -> tuple[str | None, SentBefore | None]:
    """The step owning the key (``step_id`` when the caller knows it) and its last row on ``channel``;
    ``item``: the key is one call of a for_each step, whose row is its own."""
    if step_id is None:
        step_id = conn.execute(_STEP_BY_KEY, {"key": idempotency_key}).scalar()
    if step_id is None:
        return None, None
    if item:
        found = conn.execute(_ITEM_ROW, {"row_id": item_notification_id(idempotency_key),
                                         "channel": channel}).first()
    else:
        found = conn.execute(_LAST_FOR_STEP, {"step_id": step_id, "channel": channel}).first()
    if found is None:
        return step_id, None
    return step_id, SentBefore(found.id, found.status, found.provider_id, list(found.status_history or []))


def recipient_opt_outs(conn: sa.Connection, addressed_by: Literal["email", "phone"],
                       address: str) -> tuple[str, list[str]] | None:
    """The customer with this address and the channels they refused, or None."""
    value = address.strip() if addressed_by == "email" else address
    found = conn.execute(_RECIPIENT[addressed_by], {"address": value}).first()
    return (found.id, list(found.opt_outs or [])) if found is not None else None


def save_notification(conn: sa.Connection, row_id: str | None, columns: dict[str, Any],
                      new_row_id: str | None = None) -> str:
    """Insert a row (``row_id`` None) or update an earlier try's; returns its id.

    The model's normalizers run here, as the flush guard runs them for ORM
    writes; foreign keys are the database's to check.
    """
    for name, normalize in Notification.normalizers.items():
        if name in columns:
            columns[name] = normalize(f"{Notification.entity}.{name}", columns[name])
    if row_id is None:
        row_id = new_row_id or new_id()
        conn.execute(_INSERT, {"id": row_id, "created_at": utcnow(), **columns})
    else:
        conn.execute(_UPDATE, {"row_id": row_id, **columns})
    return row_id
