"""The global suppression list: addresses no message may reach, whoever the customer behind them.

A person who answers SAIR, clicks an unsubscribe link or is suppressed
through the API is refused on every rule and connector at once: the
messaging base asks ``suppressed_on`` before each send. Addresses are
stored normalised (a phone in E.164, an email in lower case), so the
spelling of the rule's data does not matter.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session, col, select

from store.errors import ValidationFailed
from store.models import Suppression
from store.models.privacy import SUPPRESSION_CHANNELS
from store.types import utcnow
from store.validation import normalize_email, normalize_phone

_S = Suppression.__table__
_ANY_OF = (sa.select(_S.c.address, _S.c.channel, _S.c.reason, _S.c.source)
           .where(_S.c.address.in_(sa.bindparam("addresses", expanding=True)),
                  _S.c.channel.in_(sa.bindparam("channels", expanding=True)))
           .limit(1))


@dataclass(frozen=True)
class Found:
    """The suppression that refuses a send."""

    address: str
    channel: str
    reason: str
    source: str


def normalize_address(value: str, field: str = "address") -> str:
    """An email in lower case or a phone in E.164; else ``ValidationFailed`` naming ``field``."""
    text = str(value).strip().removeprefix("whatsapp:").removeprefix("mailto:")
    if not text or len(text) > 254:
        raise ValidationFailed(field, "give a phone number or an email address of at most 254 characters")
    if "@" in text:
        email = normalize_email(field, text)
        assert email is not None
        return email.lower()
    phone = normalize_phone(field, text)
    assert phone is not None
    return phone


def suppress(session: Session, address: str, channel: str, *, reason: str, source: str,
             at: datetime | None = None) -> tuple[Suppression, bool]:
    """Add ``address`` to the list for ``channel``; returns the row and whether it is new.

    An address already suppressed keeps its first row: the first opt-out is the proof.
    """
    if channel not in SUPPRESSION_CHANNELS:
        raise ValidationFailed("channel", f"'{channel}' is not one of {', '.join(SUPPRESSION_CHANNELS)}")
    normalized = normalize_address(address)
    existing = session.exec(select(Suppression).where(Suppression.address == normalized,
                                                      Suppression.channel == channel)).first()
    if existing is not None:
        return existing, False
    row = Suppression(address=normalized, channel=channel, reason=reason[:200], source=source[:200],
                      created_at=at or utcnow())
    session.add(row)
    session.flush()
    return row, True


def unsuppress(session: Session, address: str, channel: str) -> Suppression | None:
    """Remove ``address`` from the list for ``channel``; returns the removed row, None when none was there."""
    normalized = normalize_address(address)
    row = session.exec(select(Suppression).where(Suppression.address == normalized,
                                                 Suppression.channel == channel)).first()
    if row is not None:
        session.delete(row)
    return row


def listed(session: Session, *, address: str | None = None, channel: str | None = None,
           limit: int = 100, offset: int = 0) -> list[Suppression]:
    statement = select(Suppression)
    if address:
        statement = statement.where(Suppression.address == normalize_address(address))
    if channel:
        statement = statement.where(Suppression.channel == channel)
    statement = statement.order_by(col(Suppression.created_at).desc(), col(Suppression.id)).offset(offset)
    return list(session.exec(statement.limit(limit)))


def suppressed_on(conn: sa.Connection, addresses: Iterable[str], channel: str) -> Found | None:
    """The suppression refusing any of ``addresses`` on ``channel`` (or on all channels), or None."""
    normalized = []
    for address in addresses:
        try:
            normalized.append(normalize_address(address))
        except ValidationFailed:
            continue  # an address that cannot be normalised cannot be on the list; the send refuses it
    if not normalized:
        return None
    row = conn.execute(_ANY_OF, {"addresses": normalized, "channels": [channel, "all"]}).first()
    return Found(row.address, row.channel, row.reason, row.source) if row is not None else None


def mark_confirmed(session: Session, suppression_id: str, at: datetime | None = None) -> bool:
    """Claim the one confirmation of this opt-out; False when it was already sent (or claimed)."""
    result = session.execute(sa.update(Suppression)
                             .where(col(Suppression.id) == suppression_id,
                                    col(Suppression.confirmation_sent_at).is_(None))
                             .values(confirmation_sent_at=at or utcnow()))
    return bool(result.rowcount)  # type: ignore[attr-defined]
