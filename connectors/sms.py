"""SMS over Twilio (and a file transport for the embedded default)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from connectors.base import ActionSpec, Connector, Params
from connectors.sms_segments import count_segments, transliterate
from connectors.twilio import TwilioSettings


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


class SmsConnector(Connector):
    name = "sms"
    settings_model = TwilioSettings
    actions: ClassVar[dict[str, ActionSpec]] = {
        "send": ActionSpec("send", SendSmsParams, "Send an SMS", channel="sms",
                           outputs=("message_sid",)),
    }

    def plan(self, action: str, params: Params, message: dict[str, str] | None) -> dict[str, Any]:
        assert isinstance(params, SendSmsParams)
        text = message["text"] if message else params.body or ""
        return text_preview(text, max_segments=params.max_segments, translit=params.transliterate)
