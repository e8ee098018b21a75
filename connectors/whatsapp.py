"""WhatsApp over Twilio (and a file transport for the embedded default).

WhatsApp accepts free text only within 24 hours of the customer's last
message. Outside that window Twilio would accept the request and fail the
message later (error 63016), so free text is refused here, before sending,
with the same code: the step's fallback (an email, say) runs at once instead
of after a delivery callback.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, model_validator

from connectors.base import ActionCall, ActionSpec, Params
from connectors.notifications import Ledger, Message, Sent, recorded
from connectors.outbox import write_once
from connectors.phones import WHATSAPP_PREFIX, to_e164
from connectors.twilio import OPTED_OUT, OUTSIDE_WINDOW, TwilioConnector
from errors import PermanentError

if TYPE_CHECKING:
    from sqlmodel import Session

    from store.models import Customer

# Twilio refuses WhatsApp bodies longer than this.
MAX_BODY_CHARACTERS = 1600


class SendWhatsAppParams(Params):
    """Free text (inside the 24 h window), a local template, or an approved Content template."""

    to: str = Field(description="Phone number; sent as whatsapp:+E164")
    body: str | None = None
    template: str | None = Field(None, description="Name of a template under templates/whatsapp/")
    content_sid: str | None = Field(None, description="Twilio Content SID of an approved template")
    variables: dict[str, str] | None = Field(None, description="Variables of the Content template")

    @model_validator(mode="after")
    def _one_kind_of_content(self) -> SendWhatsAppParams:
        kinds = [k for k in ("body", "template", "content_sid") if getattr(self, k)]
        if len(kinds) != 1:
            raise ValueError("give exactly one of 'body', 'template', or 'content_sid' + 'variables'")
        if self.variables is not None and not self.content_sid:
            raise ValueError("'variables' go with 'content_sid'")
        return self


def sender_address(configured: str) -> str:
    """``from`` may be written with or without the ``whatsapp:`` prefix."""
    return configured if configured.startswith(WHATSAPP_PREFIX) else WHATSAPP_PREFIX + configured


class WhatsAppConnector(TwilioConnector):
    name = "whatsapp"
    actions: ClassVar[dict[str, ActionSpec]] = {
        "send": ActionSpec("send", SendWhatsAppParams, "Send a WhatsApp message",
                           channel="whatsapp", outputs=("message_sid", "status", "notification_id")),
    }

    def plan(self, action: str, params: Params, message: dict[str, str] | None) -> dict[str, Any]:
        assert isinstance(params, SendWhatsAppParams)
        if params.content_sid:
            return {"content_sid": params.content_sid, "variables": params.variables or {}}
        text = message["text"] if message else params.body or ""
        preview: dict[str, Any] = {"text": text, "length": len(text)}
        if len(text) > MAX_BODY_CHARACTERS:
            preview["warning"] = f"{len(text)} characters, over WhatsApp's {MAX_BODY_CHARACTERS}"
        return preview

    def execute(self, call: ActionCall) -> dict[str, Any]:
        from store import whatsapp_window

        params = call.params
        assert isinstance(params, SendWhatsAppParams)
        preview = self.plan(call.action, params, call.message)
        free_text = params.content_sid is None
        body = preview.get("text", "")
        shown = body if free_text else f"[{params.content_sid}] {preview['variables']}"
        ledger = Ledger(self.runtime, "whatsapp")
        record = Message(channel="whatsapp", recipient=params.to or "(empty)", body=shown,
                         template=params.template or params.content_sid)
        try:
            phone = to_e164(params.to, self.settings.default_region)
        except PermanentError as invalid:
            ledger.refuse(call, record, invalid)
        record.recipient = phone
        if "warning" in preview:
            ledger.refuse(call, record, PermanentError(
                f"WhatsApp to {phone}: {preview['warning']}", code="too_long"))

        def customer(session: Session) -> Customer | None:
            from store.messaging import customer_by_phone

            return customer_by_phone(session, phone)

        attempt = ledger.begin(call, record, customer=customer,
                               check=_window_check(phone) if free_text else _opt_out_check(phone))
        if attempt.previous is not None:
            return _outputs(attempt.previous)

        provider_ids: list[str] = []

        def send() -> Sent:
            address = WHATSAPP_PREFIX + phone
            if self.settings.transport == "file":
                path, _ = write_once(self.runtime.outbox, "whatsapp", call.idempotency_key, {
                    "to": address, "from": sender_address(self.settings.from_), **preview})
                provider_ids.append(path.stem)
                return Sent("file", path.stem)
            sent = self.twilio.send(to=address, from_=sender_address(self.settings.from_),
                                    body=body if free_text else None, content_sid=params.content_sid,
                                    variables=params.variables)
            provider_ids.append(sent.sid)
            return Sent("twilio", sent.sid, sent.status)

        def after(session: Session) -> None:
            # the thread shows what the company said too
            whatsapp_window.record_outbound(session, phone, body=shown,
                                            notification_id=attempt.notification_id,
                                            provider_id=provider_ids[-1], template=params.content_sid)

        def on_error(error: Exception) -> Callable[[Session], None] | None:
            if isinstance(error, PermanentError) and error.code == str(OPTED_OUT):
                ledger.opted_out(customer,
                                 also=lambda s: whatsapp_window.mark_conversation_opted_out(s, phone))
            return None

        return _outputs(recorded(attempt, send, after=after, on_error=on_error))


def _opt_out_check(phone: str) -> Callable[[Session], None]:
    from store import whatsapp_window

    def check(session: Session) -> None:
        thread = whatsapp_window.conversation(session, phone)
        if thread is not None and thread.opted_out_at is not None:
            raise PermanentError(f"{phone} opted out of WhatsApp on {thread.opted_out_at:%Y-%m-%d}; not sent",
                                 code="opted_out")
    return check


def _window_check(phone: str) -> Callable[[Session], None]:
    from store import whatsapp_window

    opted_out = _opt_out_check(phone)

    def check(session: Session) -> None:
        opted_out(session)
        thread = whatsapp_window.conversation(session, phone)
        if whatsapp_window.window_open(thread):
            return
        last = thread.last_inbound_at if thread is not None else None
        since = (f"last message from the customer {last:%Y-%m-%d %H:%M} UTC" if last
                 else "no message from the customer")
        raise PermanentError(f"{phone} is outside the WhatsApp 24 h window ({since}): free text is not "
                             f"allowed; use an approved template (content_sid) or a fallback",
                             code=str(OUTSIDE_WINDOW))
    return check


def _outputs(recorded_outputs: dict[str, Any]) -> dict[str, Any]:
    outputs = {"message_sid": recorded_outputs["provider_id"], "status": recorded_outputs["status"],
               "notification_id": recorded_outputs.get("notification_id")}
    if recorded_outputs.get("duplicate"):
        outputs["duplicate"] = True
    return outputs
