"""WhatsApp: Twilio, or the file transport of the embedded default.

WhatsApp accepts free text only within 24 hours of the customer's last
message. Outside that window Twilio would accept the request and fail the
message later (error 63016), so free text is refused here, before sending,
with the same code: the step's fallback (an email, say) runs at once instead
of after a delivery callback. A recipient is a phone number, sent as
``whatsapp:+E164``; every message sent joins the customer's conversation.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, model_validator

from connectors.base import ActionCall, ActionSpec, Params
from connectors.messaging.base import MessagingConnector, TransportFactory
from connectors.messaging.file import FileTransport
from connectors.messaging.outgoing import Draft, Message, Sent
from connectors.messaging.phones import WHATSAPP_PREFIX, mask, to_e164
from connectors.messaging.purpose import MessageParams
from connectors.messaging.twilio import OUTSIDE_WINDOW, TextMessage, TwilioSettings, TwilioTransport
from errors import PermanentError

if TYPE_CHECKING:
    from sqlmodel import Session

# Twilio refuses WhatsApp bodies longer than this.
MAX_BODY_CHARACTERS = 1600


class SendWhatsAppParams(MessageParams):
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


class WhatsAppConnector(MessagingConnector):
    name = "whatsapp"
    channel = "whatsapp"
    addressed_by = "phone"
    settings_model = TwilioSettings
    transports: ClassVar[dict[str, TransportFactory]] = {
        "file": FileTransport.for_connector, "twilio": TwilioTransport.for_connector}
    actions: ClassVar[dict[str, ActionSpec]] = {
        "send": ActionSpec("send", SendWhatsAppParams, "Send a WhatsApp message",
                           channel="whatsapp", outputs=("message_sid", "status", "notification_id")),
    }
    settings: TwilioSettings

    def plan(self, action: str, params: Params, message: dict[str, str] | None) -> dict[str, Any]:
        assert isinstance(params, SendWhatsAppParams)
        if params.content_sid:
            return {"content_sid": params.content_sid, "variables": params.variables or {}}
        text = message["text"] if message else params.body or ""
        preview: dict[str, Any] = {"text": text, "length": len(text)}
        if len(text) > MAX_BODY_CHARACTERS:
            preview["warning"] = f"{len(text)} characters, over WhatsApp's {MAX_BODY_CHARACTERS}"
        return preview

    def compose(self, call: ActionCall) -> Draft:
        params = call.params
        assert isinstance(params, SendWhatsAppParams)
        preview = self.plan(call.action, params, call.message)
        free_text = params.content_sid is None
        # the row and the conversation show a template as its SID and variables
        shown = preview.get("text", "") if free_text else f"[{params.content_sid}] {preview['variables']}"
        record = Message(channel="whatsapp", recipient=mask(params.to), body=shown,
                         template=params.template or params.content_sid)
        try:
            phone = to_e164(params.to, self.settings.default_region, self.settings.destinations())
        except PermanentError as invalid:
            return Draft(None, record, refusal=invalid)
        record.recipient = phone
        message = TextMessage(to=WHATSAPP_PREFIX + phone, from_=sender_address(self.settings.from_),
                              body=preview.get("text", "") if free_text else None,
                              content_sid=params.content_sid, variables=params.variables, preview=preview)
        too_long = None
        if "warning" in preview:
            too_long = PermanentError(f"WhatsApp to {mask(phone)}: {preview['warning']}", code="too_long")
        return Draft(message, record, address=phone, refusal=too_long)

    def before_send(self, session: Session, draft: Draft) -> None:
        """Refuse a customer who opted out in the conversation, and free text outside the window."""
        from store import whatsapp_window

        phone = draft.message.recipient
        thread = whatsapp_window.conversation(session, phone)
        if thread is not None and thread.opted_out_at is not None:
            raise PermanentError(f"{mask(phone)} opted out of WhatsApp on {thread.opted_out_at:%Y-%m-%d}; "
                                 "not sent", code="opted_out")
        if draft.content.content_sid is not None or whatsapp_window.window_open(thread):
            return
        last = thread.last_inbound_at if thread is not None else None
        since = (f"last message from the customer {last:%Y-%m-%d %H:%M} UTC" if last
                 else "no message from the customer")
        raise PermanentError(f"{mask(phone)} is outside the WhatsApp 24 h window ({since}): free text is not "
                             f"allowed; use an approved template (content_sid) or a fallback",
                             code=str(OUTSIDE_WINDOW))

    def after_send(self, session: Session, draft: Draft, notification_id: str | None, sent: Sent) -> None:
        """The conversation shows what the company said too."""
        from store import whatsapp_window

        whatsapp_window.record_outbound(session, draft.message.recipient, body=draft.message.body,
                                        notification_id=notification_id, provider_id=sent.provider_id,
                                        template=draft.content.content_sid)

    def after_opt_out(self, session: Session, draft: Draft) -> None:
        from store import whatsapp_window

        whatsapp_window.mark_conversation_opted_out(session, draft.message.recipient)
