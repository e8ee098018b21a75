"""SMS: Twilio, or the file transport of the embedded default.

A recipient is a phone number, normalised to E.164 (the customer is found
by it); the text is counted in segments the way Twilio counts them, and a
message over ``max_segments`` is refused before anything is sent.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from connectors.base import ActionCall, ActionSpec, Params
from connectors.messaging.base import MessagingConnector, TransportFactory
from connectors.messaging.file import FileTransport
from connectors.messaging.outgoing import Draft, Message
from connectors.messaging.phones import mask, to_e164
from connectors.messaging.purpose import MessageParams
from connectors.messaging.segments import count_segments, transliterate
from connectors.messaging.twilio import TextMessage, TwilioSettings, TwilioTransport
from errors import PermanentError


class SendSmsParams(MessageParams):
    """Send an SMS from a template (``templates/sms/<name>.txt``) or a body."""

    to: str = Field(description="Phone number; normalised to E.164 (default region BR)")
    template: str | None = Field(None, description="Name of a template under templates/sms/")
    body: str | None = None
    max_segments: int = Field(1, ge=1, le=10, description="Refuse messages longer than this")
    transliterate: bool = Field(False, description="Replace accents to stay in GSM-7")

    @model_validator(mode="after")
    def _template_or_body(self) -> SendSmsParams:
        if bool(self.template) == bool(self.body):
            raise ValueError("give exactly one of 'template' or 'body'")
        return self


def text_preview(text: str, *, max_segments: int | None = None, translit: bool = False) -> dict[str, Any]:
    """The text as it would be sent, with its encoding and segment count."""
    sent = transliterate(text) if translit else text
    counted = count_segments(sent)
    preview: dict[str, Any] = {
        "text": sent,
        "encoding": counted.encoding,
        "segments": counted.segments,
        "length": counted.units,
    }
    if counted.non_gsm_characters:
        preview["non_gsm_characters"] = "".join(counted.non_gsm_characters)
    if max_segments is not None and counted.segments > max_segments:
        preview["warning"] = f"{counted.segments} segments, over max_segments={max_segments}"
    return preview


class SmsConnector(MessagingConnector):
    name = "sms"
    channel = "sms"
    addressed_by = "phone"
    settings_model = TwilioSettings
    transports: ClassVar[dict[str, TransportFactory]] = {
        "file": FileTransport.for_connector, "twilio": TwilioTransport.for_connector}
    actions: ClassVar[dict[str, ActionSpec]] = {
        "send": ActionSpec("send", SendSmsParams, "Send an SMS", channel="sms",
                           outputs=("message_sid", "status", "segments", "notification_id")),
    }
    settings: TwilioSettings

    def plan(self, action: str, params: Params, message: dict[str, str] | None) -> dict[str, Any]:
        assert isinstance(params, SendSmsParams)
        text = message["text"] if message else params.body or ""
        return text_preview(text, max_segments=params.max_segments, translit=params.transliterate)

    def compose(self, call: ActionCall) -> Draft:
        params = call.params
        assert isinstance(params, SendSmsParams)
        preview = self.plan(call.action, params, call.message)
        record = Message(channel="sms", recipient=mask(params.to), body=preview["text"],
                         template=params.template, encoding=preview["encoding"],
                         segments=preview["segments"])
        counted = {"segments": preview["segments"], "encoding": preview["encoding"]}
        try:
            to = to_e164(params.to, self.settings.default_region, self.settings.destinations())
        except PermanentError as invalid:
            return Draft(None, record, refusal=invalid, outputs=counted)
        record.recipient = to
        message = TextMessage(to=to, from_=self.settings.from_, body=preview["text"], preview=preview)
        return Draft(message, record, address=to, refusal=_segments_problem(preview, params),
                     outputs=counted)


def _segments_problem(preview: dict[str, Any], params: SendSmsParams) -> PermanentError | None:
    if preview["segments"] <= params.max_segments:
        return None
    hint = ("shorten the template" if params.transliterate
            else "shorten the template, or set transliterate: true to stay in GSM-7")
    return PermanentError(f"SMS to {mask(params.to)} is {preview['segments']} segments "
                          f"({preview['encoding']}, {preview['length']} units), "
                          f"over max_segments={params.max_segments}: {hint}",
                          code="too_many_segments")
