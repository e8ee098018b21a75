"""Polling a system without webhooks for payments made on its side (Conta Azul, Omie).

The cursor is durable: each poll that went through leaves an audit row (operation ``poll``,
direction ``pull``) whose response holds ``until``, the moment it asked up to; the next poll asks
from there, less an overlap for clocks and late registrations — payments seen twice are dropped
by ``store.provider_payments.take_payment``'s dedupe, so the overlap costs nothing but a read.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from connectors.accounting.adapter import AccountingAdapter, RemotePayment

if TYPE_CHECKING:
    from sqlmodel import Session

OVERLAP = timedelta(minutes=5)
FIRST_LOOK_BACK = timedelta(days=1)


def last_poll(session: Session, system: str) -> datetime | None:
    from sqlmodel import col, select

    from store.models.accounting import AccountingSyncAudit

    row = session.exec(select(AccountingSyncAudit.response).where(
        AccountingSyncAudit.system == system, AccountingSyncAudit.operation == "poll",
        AccountingSyncAudit.outcome == "ok").order_by(col(AccountingSyncAudit.at).desc()).limit(1)).first()
    until = row.get("until") if isinstance(row, dict) else None
    return datetime.fromisoformat(until) if isinstance(until, str) else None


def poll_payments(session: Callable[[], AbstractContextManager[Session]], adapter: AccountingAdapter,
                  system: str, now: datetime) -> dict[str, int]:
    """Ask the system for payments since the last poll; take each once. Returns counts by outcome."""
    from store.accounting_sync import AuditContext, add_audit
    from store.provider_payments import take_payment

    with session() as s:
        last = last_poll(s, system)
    since = (last - OVERLAP) if last else now - FIRST_LOOK_BACK
    payments: list[RemotePayment] = adapter.payments_since(since)
    counts: Counter[str] = Counter()
    for payment in payments:
        with session() as s:  # one transaction each: a refused payment does not hold back the others
            counts[str(take_payment(s, system, payment))] += 1
    result: dict[str, Any] = {"until": now.isoformat(), "payments": len(payments), **counts}
    with session() as s:
        add_audit(s, AuditContext(system=system, direction="pull"), None, operation="poll",
                  request={"since": since.isoformat()}, response=result)
    return dict(counts)
