"""Who read a person's data, what and why: one audit entry per read, in the reading transaction.

Written with the read itself (not through the API's batched request log, which a crash may
cut short), under ``entity_type='customer'`` and the person's id so a person's access log is
one indexed query. The reason is what the caller declared (``X-Access-Reason``); the faces
check it is short, one line and printable before it gets here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlmodel import Session

from store.audit import entry_values, insert_entries, query_entries
from store.models import AuditLogEntry
from store.run_views import CUSTOMER_PATHS

ACCESS_ACTION = "privacy.access"
MAX_REASON = 200


def record_access(session: Session, actor: str, customer_ids: Iterable[str], *, what: str,
                  reason: str | None, at: datetime | None = None) -> int:
    """One entry per person read (a list of customers is one entry per customer, one insert)."""
    rows = [entry_values(actor, ACCESS_ACTION, at=at, entity_type="customer", entity_id=cid,
                         details={"what": what, "reason": reason})
            for cid in dict.fromkeys(customer_ids)]
    return insert_entries(session, rows)


def access_log(session: Session, customer_id: str, *, limit: int = 500) -> Sequence[AuditLogEntry]:
    """The reads of the person's data, newest first."""
    return query_entries(session, action=ACCESS_ACTION, entity_type="customer", entity_id=customer_id,
                         limit=limit)


def access_dict(entry: AuditLogEntry) -> dict[str, Any]:
    return {"at": entry.at.isoformat(), "who": entry.actor, "what": entry.details.get("what"),
            "why": entry.details.get("reason")}


def payload_customer_ids(payload: Mapping[str, Any]) -> list[str]:
    """The customers an event's payload names (``customer.id``, ``<record>.customer_id``): whose
    data a page showing the event, or what was done with it, shows."""
    found = []
    for record, key in CUSTOMER_PATHS:
        part = payload.get(record)
        value = part.get(key) if isinstance(part, Mapping) else None
        if isinstance(value, str) and value:
            found.append(value)
    return list(dict.fromkeys(found))
