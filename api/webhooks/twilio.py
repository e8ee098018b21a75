"""Twilio's webhooks: delivery status callbacks and inbound WhatsApp messages.

Every request must carry a valid ``X-Twilio-Signature``, computed by Twilio
over the URL it called and the form fields; it is checked with Twilio's own
``RequestValidator`` (HMAC-SHA1 with the auth token, or HMAC-SHA256 with the
webhook key when ``X-Twilio-Webhooks-Signature-Settings`` says so). Twilio
adds fields over time, so unknown ones are accepted and ignored.

- ``POST /webhooks/twilio/status``: moves the notification row along
  (queued → sent → delivered / failed / undelivered); a failure runs the
  step's fallback, as a failed API call would.
- ``POST /webhooks/twilio/whatsapp``: stores the message in its
  conversation (opening the 24 h window) and emits
  ``whatsapp.message_received``; an opt-out keyword (SAIR, PARAR, STOP...)
  suppresses the sender (``api.webhooks.opt_out``).
- ``POST /webhooks/twilio/sms``: an inbound SMS; an opt-out keyword
  suppresses the sender the same way.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from twilio.request_validator import SIGNATURE_SETTINGS_HEADER, RequestValidator, get_signature_algorithm

from api.errors import ApiError
from api.webhooks.opt_out import OptOut, apply_opt_out, confirm
from api.webhooks.transactions import webhook_transaction
from api.webhooks.verify import SenderRejected, verified_sender
from connectors.messaging.phones import WHATSAPP_PREFIX, mask, mask_numbers_in
from connectors.messaging.twilio import OPTED_OUT, TwilioSettings
from engine.language.events import Event
from engine.runtime.intake import accept_events
from engine.runtime.outbox import Transaction
from store import messaging, whatsapp_window

log = logging.getLogger("despacho.api.webhooks.twilio")

INBOUND_EVENT = "whatsapp.message_received"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
FAILED = frozenset({"failed", "undelivered"})


def _twilio_settings(request: Request) -> list[TwilioSettings]:
    connectors = request.app.state.ctx.settings.connectors
    return [connectors.whatsapp, connectors.sms]


async def verify_twilio(request: Request, url: str) -> None:
    """Accept the request only if its signature matches one of our Twilio secrets."""
    signature = request.headers.get("X-Twilio-Signature")
    if not signature:
        raise SenderRejected("no X-Twilio-Signature header")
    form = await request.form()
    settings_header = request.headers.get(SIGNATURE_SETTINGS_HEADER)
    algorithm = get_signature_algorithm(settings_header)
    urls = _candidate_urls(request, url)
    for secret in _secrets(request, shared_key=bool(settings_header)):
        validator = RequestValidator(secret)
        if any(validator.validate(candidate, form, signature, algorithm) for candidate in urls):
            return
    raise SenderRejected(f"X-Twilio-Signature ({algorithm}) does not match {url}")


def _secrets(request: Request, *, shared_key: bool) -> list[str]:
    found: list[str] = []
    for settings in _twilio_settings(request):
        secret = settings.webhook_key if shared_key else settings.auth_token
        if secret is not None and secret.get_secret_value() and secret.get_secret_value() not in found:
            found.append(secret.get_secret_value())
    return found


def _candidate_urls(request: Request, url: str) -> list[str]:
    """The API's public URL, and the connectors' own ``public_url`` (the status callback address)."""
    urls = [url]
    suffix = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    for settings in _twilio_settings(request):
        if settings.public_url:
            candidate = settings.public_url.rstrip("/") + suffix
            if candidate not in urls:
                urls.append(candidate)
    return urls


router = APIRouter(prefix="/twilio", tags=["webhooks"],
                   dependencies=[Depends(verified_sender(verify_twilio))])


@router.post("/status", status_code=204, response_class=Response,
             responses={204: {"description": "Recorded (or ignored, for a message despacho did not send)"}})
async def status_callback(request: Request) -> Response:
    """A delivery status from Twilio for a message despacho sent."""
    form = dict((await request.form()).items())
    await run_in_threadpool(_apply_status, request, form)
    return Response(status_code=204)


def _apply_status(request: Request, form: dict[str, Any]) -> None:
    sid, status = str(form.get("MessageSid") or ""), str(form.get("MessageStatus") or "").lower()
    if not sid or not status:
        log.info("twilio status callback without MessageSid/MessageStatus ignored")
        return
    error_code = str(form["ErrorCode"]) if form.get("ErrorCode") else None
    detail = str(form.get("ErrorMessage") or "") or None
    with webhook_transaction(request) as tx:
        session = tx.session
        row = messaging.apply_provider_status(session, "twilio", sid, status, error_code=error_code,
                                              detail=detail)
        if row is None:
            log.info("twilio status %s for unknown message %s ignored", status, sid)
            return
        if row.channel == "whatsapp":
            whatsapp_window.update_outbound_status(session, sid, status, error_code)
        if error_code == str(OPTED_OUT) and row.customer_id:
            _mark_opted_out(session, row.customer_id, row.channel)
        if status in FAILED and row.step_id:
            # this message becomes the dead letter's: the number masked, as in every phone error
            why = f" (Twilio error {error_code}: {mask_numbers_in(detail or '')})" if error_code else ""
            _delivery_failed(request, tx, row.step_id, error_code or status,
                             f"{row.channel} to {mask(row.recipient)} {status}{why}")


def _mark_opted_out(session: Session, customer_id: str, channel: str) -> None:
    from store.models import Customer

    customer = session.get(Customer, customer_id)
    if customer is not None:
        messaging.mark_opted_out(session, customer, channel)


def _delivery_failed(request: Request, tx: Transaction, step_id: str, code: str, message: str) -> None:
    """Delivery failed after the send succeeded: the step's fallback runs now."""
    core = request.app.state.ctx.core
    if core is None:
        log.warning("delivery of step %s failed (%s) but this app was built without the engine's core; "
                    "its fallback does not run", step_id, code)
        return
    core.delivery_failed(tx, step_id, code, message)


# the route keeps the JSON response class, so the hook's 403 is documented as the JSON it is
@router.post("/whatsapp", responses={200: {
    "description": "An empty TwiML document: no automatic reply",
    "content": {"text/xml": {"schema": {"type": "string"}}}}})
async def inbound_whatsapp(request: Request) -> Response:
    """A message a customer sent to the company's WhatsApp number."""
    form = dict((await request.form()).items())
    num_media = _count(form, "NumMedia")  # the signature was checked first (the router's dependency)
    await run_in_threadpool(_store_inbound, request, form, num_media)
    # an empty TwiML answer: no automatic reply (rules decide what to answer)
    return Response(EMPTY_TWIML, media_type="text/xml")


def _count(form: dict[str, Any], field: str) -> int:
    """A count Twilio sends as digits; anything else is a bad request (400), not our crash (500)."""
    value = str(form.get(field) or "0").strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 4:
        raise ApiError(f"{field} must be a whole number from 0 to 9999, got {value[:20]!r}",
                       code="invalid_form")
    return int(value)


def _store_inbound(request: Request, form: dict[str, Any], num_media: int) -> None:
    sid = str(form.get("MessageSid") or form.get("SmsMessageSid") or "")
    sender = str(form.get("From") or "")
    if not sid or not sender:
        log.info("twilio inbound message without MessageSid/From ignored")
        return
    phone = sender.removeprefix(WHATSAPP_PREFIX)
    body = str(form.get("Body") or "")
    opt_out: OptOut | None = None
    with webhook_transaction(request) as tx:
        session = tx.session
        _, new = whatsapp_window.record_inbound(session, phone, body, sid)
        if not new:
            return  # Twilio retried a webhook we already took
        session.flush()
        opt_out = apply_opt_out(session, phone, body, "whatsapp", sid)
        if opt_out is not None:
            whatsapp_window.mark_conversation_opted_out(session, phone)
        thread = whatsapp_window.conversation(session, phone)
        customer = messaging.customer_by_phone(session, phone)
        data: dict[str, Any] = {
            "message_sid": sid, "from": phone, "to": str(form.get("To") or "").removeprefix(WHATSAPP_PREFIX),
            "body": body, "text": body.strip(), "profile_name": form.get("ProfileName"),
            "num_media": num_media,
            "conversation_id": thread.id if thread else None,
            "customer": ({"id": customer.id, "name": customer.name, "phone": customer.phone,
                          "email": customer.email} if customer else None),
        }
        accept_events(session, [Event(type=INBOUND_EVENT, id=sid, source="twilio", data=data)])
    if opt_out is not None:
        ctx = request.app.state.ctx
        confirm(ctx.core, ctx.engine, "whatsapp", phone, opt_out)



@router.post("/sms", responses={200: {
    "description": "An empty TwiML document: no automatic reply",
    "content": {"text/xml": {"schema": {"type": "string"}}}}})
async def inbound_sms(request: Request) -> Response:
    """An SMS a customer sent to the company's number: an opt-out keyword suppresses the sender."""
    form = dict((await request.form()).items())
    await run_in_threadpool(_store_inbound_sms, request, form)
    return Response(EMPTY_TWIML, media_type="text/xml")


def _store_inbound_sms(request: Request, form: dict[str, Any]) -> None:
    sid = str(form.get("MessageSid") or form.get("SmsMessageSid") or "")
    phone = str(form.get("From") or "")
    if not sid or not phone:
        log.info("twilio inbound SMS without MessageSid/From ignored")
        return
    body = str(form.get("Body") or "")
    with webhook_transaction(request) as tx:
        opt_out = apply_opt_out(tx.session, phone, body, "sms", sid)
    if opt_out is not None:
        ctx = request.app.state.ctx
        confirm(ctx.core, ctx.engine, "sms", phone, opt_out)
