"""Marketing consent per customer and channel: recorded with its proof, read as the latest decision.

Rows are only ever added (``store.models.privacy.ConsentRecord``): withdrawing
consent is a new row, so the history shows what the customer agreed to,
when and how, for as long as it is kept. The connectors' check before a
marketing send is one indexed look-up (``has_consent``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from store.errors import ValidationFailed
from store.models import ConsentRecord, Customer
from store.models.privacy import CONSENT_CHANNELS
from store.types import utcnow

# the proof is shown to the data-protection officer and the ANPD: one printable line, bounded
# (the columns' sizes), whichever face it came through
MAX_SOURCE = 200
MAX_WORDING_VERSION = 50

_R = ConsentRecord.__table__
_LATEST = (sa.select(_R.c.decision)
           .where(_R.c.customer_id == sa.bindparam("customer_id"), _R.c.channel == sa.bindparam("channel"),
                  _R.c.purpose == sa.bindparam("purpose"))
           .order_by(_R.c.recorded_at.desc(), _R.c.id.desc()).limit(1))


@dataclass(frozen=True)
class ConsentState:
    """Where a customer stands on one channel: the latest decision, or none at all."""

    channel: str
    purpose: str
    granted: bool
    since: datetime | None
    source: str | None
    wording_version: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"channel": self.channel, "purpose": self.purpose, "granted": self.granted,
                "since": self.since.isoformat() if self.since else None, "source": self.source,
                "wording_version": self.wording_version}


def record_dict(row: ConsentRecord) -> dict[str, Any]:
    """One decision as data (the JSON of ``despacho privacy consent`` and of the export)."""
    return {"id": row.id, "channel": row.channel, "purpose": row.purpose, "decision": row.decision,
            "source": row.source, "wording_version": row.wording_version, "actor": row.actor,
            "recorded_at": row.recorded_at.isoformat()}


def record(session: Session, customer_id: str, channel: str, *, granted: bool, source: str,
           purpose: str = "marketing", wording_version: str | None = None, actor: str | None = None,
           at: datetime | None = None) -> ConsentRecord:
    """Append one decision; the customer must exist (a consent nobody gave proves nothing)."""
    if session.get(Customer, customer_id) is None:
        raise ValidationFailed("consent.customer_id", f"no customer '{customer_id}'")
    if channel not in CONSENT_CHANNELS:
        raise ValidationFailed("consent.channel", f"'{channel}' is not one of: {', '.join(CONSENT_CHANNELS)}")
    source = _proof_line("consent.source", source, MAX_SOURCE)
    if wording_version is not None:
        wording_version = _proof_line("consent.wording_version", wording_version, MAX_WORDING_VERSION)
    row = ConsentRecord(customer_id=customer_id, channel=channel, purpose=purpose,
                        decision="granted" if granted else "withdrawn", source=source,
                        wording_version=wording_version, actor=actor, recorded_at=at or utcnow())
    session.add(row)
    return row


def _proof_line(field: str, value: str, limit: int) -> str:
    text = value.strip()
    if not text:
        raise ValidationFailed(field, "is required")
    if len(text) > limit:
        raise ValidationFailed(field, f"is longer than {limit} characters")
    if not text.isprintable():  # controls, line breaks, bidi overrides, zero-width characters
        raise ValidationFailed(field, "holds a character that is not printable (one line of text)")
    return text


def withdraw_all(session: Session, customer_id: str, *, source: str,
                 channels: tuple[str, ...] = CONSENT_CHANNELS,
                 actor: str | None = None) -> list[ConsentRecord]:
    """Withdraw marketing consent on ``channels`` where it is in force (an opt-out, an unsubscribe)."""
    withdrawn = []
    conn = session.connection()
    for channel in channels:
        if has_consent(conn, customer_id, channel):
            withdrawn.append(record(session, customer_id, channel, granted=False, source=source, actor=actor))
    return withdrawn


def has_consent(conn: sa.Connection, customer_id: str, channel: str, purpose: str = "marketing") -> bool:
    """The latest decision for this customer, channel and purpose is ``granted``."""
    latest = conn.execute(_LATEST, {"customer_id": customer_id, "channel": channel,
                                    "purpose": purpose}).scalar()
    return latest == "granted"


def history(session: Session, customer_id: str) -> list[ConsentRecord]:
    """Every decision of the customer, oldest first: the proof."""
    statement = (select(ConsentRecord).where(ConsentRecord.customer_id == customer_id)
                 .order_by(col(ConsentRecord.recorded_at), col(ConsentRecord.id)))
    return list(session.exec(statement))


def current(session: Session, customer_id: str, purpose: str = "marketing") -> list[ConsentState]:
    """The state on each channel, derived from the history."""
    latest: dict[str, ConsentRecord] = {}
    for row in history(session, customer_id):
        if row.purpose == purpose:
            latest[row.channel] = row
    states = []
    for channel in CONSENT_CHANNELS:
        last = latest.get(channel)
        states.append(ConsentState(channel, purpose, last is not None and last.decision == "granted",
                                   last.recorded_at if last else None, last.source if last else None,
                                   last.wording_version if last else None))
    return states
