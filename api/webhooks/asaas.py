"""Asaas's webhook: payments received, confirmed, overdue and refunded, applied once, in any order.

Asaas sends the token configured on its webhook in the ``asaas-access-token`` header; it is
compared in constant time with ``connectors.accounting.asaas.webhook_token`` (unset: every
delivery refused, and the log says why). Asaas delivers at least once and in any order, so:

- a delivery's ``id`` is taken once (``accounting_webhook_receipts``); a repeat answers 200;
- RECEIVED and CONFIRMED of one charge are one payment (its Asaas id is the dedupe key);
- an OVERDUE after the payment does not reopen the invoice; a REFUNDED that overtook the
  payment records the payment first, then the refund.

A delivery that names no invoice of ours answers 200 (Asaas would retry it for days) and
is logged; nothing is stored for it, so a redelivery after the invoice exists still counts.
Asaas pauses a webhook's queue after repeated non-2xx answers, which is why only a forged,
oversized or malformed delivery gets one.
"""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool

from api.errors import ApiError, InvalidRequest, PayloadTooLarge
from api.webhooks.transactions import webhook_transaction
from api.webhooks.verify import SenderRejected, verified_sender
from connectors.accounting import asaas_wire
from connectors.accounting.money import brl
from store import provider_payments
from store.provider_payments import Applied

log = logging.getLogger("despacho.api.webhooks.asaas")

SYSTEM = "asaas"
TOKEN_HEADER = "asaas-access-token"
MAX_EVENT_BYTES = 64 * 1024  # an Asaas event is 2-3 kB; a split payment's list stays far below this


async def verify_asaas(request: Request, url: str) -> None:
    configured = request.app.state.ctx.settings.connectors.accounting.asaas.webhook_token
    expected = configured.get_secret_value() if configured is not None else ""
    if not expected:
        raise SenderRejected("connectors.accounting.asaas.webhook_token is not configured: "
                             "every Asaas delivery is refused until it is")
    given = request.headers.get(TOKEN_HEADER)
    if not given:
        raise SenderRejected(f"no {TOKEN_HEADER} header")
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode()):
        raise SenderRejected(f"{TOKEN_HEADER} does not match the configured token")


class AsaasCharge(BaseModel):
    """The ``payment`` of an event: the fields despacho reads (Asaas adds others over time)."""

    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1, max_length=100)
    value: Decimal = Field(gt=0, le=Decimal("1000000000"), allow_inf_nan=False)
    externalReference: str | None = Field(None, max_length=100)
    billingType: str | None = Field(None, max_length=30)
    status: str | None = Field(None, max_length=40)
    dueDate: str | None = Field(None, max_length=30)
    paymentDate: str | None = Field(None, max_length=30)
    clientPaymentDate: str | None = Field(None, max_length=30)
    confirmedDate: str | None = Field(None, max_length=30)
    refundedValue: Decimal | None = Field(None, gt=0, le=Decimal("1000000000"), allow_inf_nan=False)


class AsaasEvent(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str = Field(min_length=1, max_length=100)
    event: str = Field(min_length=1, max_length=60)
    payment: AsaasCharge | None = None


router = APIRouter(prefix="/asaas", tags=["webhooks"], dependencies=[Depends(verified_sender(verify_asaas))])


@router.post("", responses={200: {"description": "Taken (or already taken, or ignored)"}})
async def asaas_event(request: Request) -> dict[str, str]:
    """An event from Asaas about one of the company's charges."""
    event = parse_event(await request.body())
    outcome = await run_in_threadpool(apply_event, request, event)
    return {"status": outcome}


def parse_event(raw: bytes) -> AsaasEvent:
    if len(raw) > MAX_EVENT_BYTES:
        raise PayloadTooLarge(f"an Asaas event is at most {MAX_EVENT_BYTES} bytes, this one {len(raw)}")
    try:
        data = json.loads(raw)
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # RecursionError: [[[[... nested
        log.warning("asaas webhook with a body that is not JSON refused")
        raise ApiError("the body is not JSON", code="invalid_json") from exc
    try:
        return AsaasEvent.model_validate(data)
    except ValidationError as exc:
        details = [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()[:10]]
        log.warning("asaas webhook refused: %s", "; ".join(f"{d['loc']}: {d['msg']}" for d in details))
        raise InvalidRequest("the body is not an Asaas payment event", details=details) from exc


Handler = Callable[[Session, AsaasEvent, AsaasCharge, datetime], Applied]


def apply_event(request: Request, event: AsaasEvent) -> str:
    handler = HANDLERS.get(event.event)
    if handler is None or event.payment is None:
        log.debug("asaas event %s (%s) ignored: despacho does not act on it", event.id, event.event)
        return "ignored"
    now = datetime.now(ZoneInfo(request.app.state.ctx.settings.timezone))
    with webhook_transaction(request) as tx:
        if not provider_payments.take_receipt(tx.session, SYSTEM, event.id, event.event):
            return "duplicate"
        outcome = handler(tx.session, event, event.payment, now)
        if outcome is Applied.UNKNOWN_INVOICE:
            log.warning("asaas event %s (%s) for charge %s names no invoice of ours (externalReference %r); "
                        "nothing changed", event.id, event.event, event.payment.id,
                        event.payment.externalReference)
            tx.session.rollback()  # not even the receipt: a redelivery once the invoice exists counts
            return str(outcome)
    log.info("asaas event %s (%s) for charge %s: %s", event.id, event.event, event.payment.id, outcome)
    return str(outcome)


def _payment(session: Session, event: AsaasEvent, charge: AsaasCharge, now: datetime) -> Applied:
    wire = charge.model_dump()
    if not (charge.clientPaymentDate or charge.paymentDate or charge.confirmedDate):
        wire["paymentDate"] = now.date().isoformat()  # the event itself says it was paid: today
    return provider_payments.take_payment(session, SYSTEM, asaas_wire.remote_payment(wire))


def _overdue(session: Session, event: AsaasEvent, charge: AsaasCharge, now: datetime) -> Applied:
    return provider_payments.note_overdue(session, SYSTEM, charge.externalReference, now)


def _refunded(session: Session, event: AsaasEvent, charge: AsaasCharge, now: datetime) -> Applied:
    if charge.paymentDate or charge.clientPaymentDate or charge.confirmedDate:
        paid = _payment(session, event, charge, now)  # the refund overtook the payment's own event
        if paid is Applied.UNKNOWN_INVOICE:
            return paid
    refunded = brl(charge.refundedValue) if charge.refundedValue is not None else None
    return provider_payments.take_refund(session, SYSTEM, external_id=charge.id,
                                         invoice_id=charge.externalReference, amount=refunded,
                                         refunded_at=now)


HANDLERS: dict[str, Handler] = {
    "PAYMENT_RECEIVED": _payment,
    "PAYMENT_CONFIRMED": _payment,
    "PAYMENT_OVERDUE": _overdue,
    "PAYMENT_REFUNDED": _refunded,
}

