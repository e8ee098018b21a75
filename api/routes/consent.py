"""``/v1/customers/{id}/consent``: a customer's marketing consent per channel, with its proof.

A CRM, the website or the support team records each decision as it is given (when, how,
which wording); the history is never changed, a withdrawal is a new row. Reading the
state is a read of the person's data, so it goes in their access log.
"""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter

from api.access_reason import AccessReason
from api.auth import requires
from api.crud import DbSession, get_live
from api.schemas.consent import ConsentIn, ConsentOut, ConsentRecordOut, ConsentStateOut
from store import consent
from store.models import Customer
from store.privacy.access import record_access

router = APIRouter(prefix="/v1", tags=["privacy"])


@router.get("/customers/{customer_id}/consent", response_model=ConsentOut)
def get_consent(session: DbSession, principal: requires("consent:read"), customer_id: str,
                reason: AccessReason = None) -> ConsentOut:
    """The decision in force on each channel, and every decision recorded (the proof)."""
    customer = get_live(session, Customer, customer_id)
    record_access(session, principal.actor, [customer.id], what="GET /v1/customers/{id}/consent",
                  reason=reason)
    states = [ConsentStateOut(**asdict(s)) for s in consent.current(session, customer.id)]
    history = [ConsentRecordOut.model_validate(r) for r in consent.history(session, customer.id)]
    return ConsentOut(customer_id=customer.id, current=states, history=history)


@router.post("/customers/{customer_id}/consent", status_code=201, response_model=ConsentRecordOut)
def post_consent(session: DbSession, principal: requires("consent:write"), customer_id: str,
                 body: ConsentIn) -> ConsentRecordOut:
    """Append a decision; it is in force from now on, the earlier ones stay as history."""
    customer = get_live(session, Customer, customer_id)
    row = consent.record(session, customer.id, body.channel, granted=body.decision == "granted",
                         source=body.source, purpose=body.purpose, wording_version=body.wording_version,
                         actor=principal.actor)
    session.flush()
    return ConsentRecordOut.model_validate(row)
