"""The global suppression list through the API: list, add, remove; every change audited.

``POST /v1/suppressions`` is how a CRM or the support team records an opt-out
that came by phone or in person; ``DELETE`` lifts one (a customer who asks to
hear from the company again), and is recorded with who did it. Addresses are
answered masked: the caller knows which one it asked about.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.auth import requires
from api.crud import DbSession
from api.errors import NotFoundError
from api.schemas.common import Input
from personal_data import mask_text
from store import suppressions
from store.audit import record_action
from store.models import Suppression

router = APIRouter(prefix="/v1", tags=["privacy"])
Channel = Literal["email", "sms", "whatsapp", "all"]


class SuppressionIn(Input):
    address: str = Field(max_length=254, description="A phone (any format; E.164 stored) or an email")
    channel: Channel = "all"
    reason: str = Field("requested through the API", max_length=200)


class SuppressionOut(BaseModel):
    id: str
    address: str = Field(description="Masked")
    channel: str
    reason: str
    source: str
    created_at: datetime
    confirmation_sent_at: datetime | None


def _out(row: Suppression) -> SuppressionOut:
    return SuppressionOut(id=row.id, address=mask_text(row.address), channel=row.channel, reason=row.reason,
                          source=mask_text(row.source), created_at=row.created_at,
                          confirmation_sent_at=row.confirmation_sent_at)


# Far past any real list; a larger offset (2**63 overflowed SQLite's integers: a 500) is a 422.
MAX_OFFSET = 10_000_000


@router.get("/suppressions", response_model=list[SuppressionOut])
def list_suppressions(session: DbSession, principal: requires("suppressions:read"),
                      address: str | None = Query(None, max_length=254), channel: Channel | None = None,
                      limit: int = Query(100, ge=1, le=500),
                      offset: int = Query(0, ge=0, le=MAX_OFFSET)) -> list[SuppressionOut]:
    """The list, newest first; ``address`` (any spelling) finds one address."""
    rows = suppressions.listed(session, address=address, channel=channel, limit=limit, offset=offset)
    return [_out(row) for row in rows]


@router.post("/suppressions", response_model=SuppressionOut, status_code=201)
def add_suppression(session: DbSession, principal: requires("suppressions:write"),
                    body: SuppressionIn) -> SuppressionOut:
    """Suppress an address; an address already suppressed on the channel keeps its first row."""
    row, new = suppressions.suppress(session, body.address, body.channel, reason=body.reason,
                                     source=f"api:{principal.actor}")
    record_action(session, principal.actor, "suppressions.add", entity_type="suppression", entity_id=row.id,
                  details={"channel": body.channel, "new": new})
    return _out(row)


@router.delete("/suppressions", status_code=204)
def remove_suppression(session: DbSession, principal: requires("suppressions:write"),
                       address: str = Query(max_length=254), channel: Channel = "all") -> None:
    """Lift a suppression; 404 when the address is not on the list for that channel."""
    row = suppressions.unsuppress(session, address, channel)
    if row is None:
        raise NotFoundError(f"{mask_text(address)} is not suppressed on {channel}")
    record_action(session, principal.actor, "suppressions.remove", entity_type="suppression",
                  entity_id=row.id, details={"channel": channel, "reason": row.reason})
