"""SMS over Twilio (and a file transport for the embedded default)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field, model_validator

from connectors.base import ActionCall, ActionSpec, Params
from connectors.notifications import Ledger, Message, Sent, recorded
from connectors.outbox import write_once
from connectors.phones import to_e164
from connectors.sms_segments import count_segments, transliterate
from connectors.twilio import OPTED_OUT, TwilioConnector
from errors import PermanentError

if TYPE_CHECKING:
    from sqlmodel import Session

    from store.models import Customer


class SendSmsParams(Params):
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


class SmsConnector(TwilioConnector):
    name = "sms"
    actions: ClassVar[dict[str, ActionSpec]] = {
        "send": ActionSpec("send", SendSmsParams, "Send an SMS", channel="sms",
                           outputs=("message_sid", "status", "segments", "notification_id")),
    }

    def plan(self, action: str, params: Params, message: dict[str, str] | None) -> dict[str, Any]:
        assert isinstance(params, SendSmsParams)
        text = message["text"] if message else params.body or ""
        return text_preview(text, max_segments=params.max_segments, translit=params.transliterate)

    def execute(self, call: ActionCall) -> dict[str, Any]:
        params = call.params
        assert isinstance(params, SendSmsParams)
        preview = self.plan(call.action, params, call.message)
        ledger = Ledger(self.runtime, "sms")
        record = Message(channel="sms", recipient=params.to or "(empty)", body=preview["text"],
                         template=params.template, encoding=preview["encoding"],
                         segments=preview["segments"])
        try:
            to = to_e164(params.to, self.settings.default_region)
        except PermanentError as invalid:
            ledger.refuse(call, record, invalid)
        record.recipient = to
        too_long = _segments_problem(preview, params)
        if too_long is not None:
            ledger.refuse(call, record, too_long)

        def customer(session: Session) -> Customer | None:
            from store.messaging import customer_by_phone

            return customer_by_phone(session, to)

        attempt = ledger.begin(call, record, customer=customer)
        if attempt.previous is not None:
            return _outputs(attempt.previous, preview)

        def send() -> Sent:
            if self.settings.transport == "file":
                path, _ = write_once(self.runtime.outbox, "sms", call.idempotency_key, {
                    "to": to, "from": self.settings.from_, **preview})
                return Sent("file", path.stem)
            sent = self.twilio.send(to=to, from_=self.settings.from_, body=preview["text"])
            return Sent("twilio", sent.sid, sent.status)

        def on_error(error: Exception) -> Any:
            if isinstance(error, PermanentError) and error.code == str(OPTED_OUT):
                ledger.opted_out(customer)
            return None

        return _outputs(recorded(attempt, send, on_error=on_error), preview)


def _segments_problem(preview: dict[str, Any], params: SendSmsParams) -> PermanentError | None:
    if preview["segments"] <= params.max_segments:
        return None
    hint = ("shorten the template" if params.transliterate
            else "shorten the template, or set transliterate: true to stay in GSM-7")
    return PermanentError(f"SMS to {params.to} is {preview['segments']} segments ({preview['encoding']}, "
                          f"{preview['length']} units), over max_segments={params.max_segments}: {hint}",
                          code="too_many_segments")


def _outputs(recorded_outputs: dict[str, Any], preview: dict[str, Any]) -> dict[str, Any]:
    outputs = {"message_sid": recorded_outputs["provider_id"], "status": recorded_outputs["status"],
               "segments": preview["segments"], "encoding": preview["encoding"],
               "notification_id": recorded_outputs.get("notification_id")}
    if recorded_outputs.get("duplicate"):
        outputs["duplicate"] = True
    return outputs
