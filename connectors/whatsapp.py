"""WhatsApp over Twilio (and a file transport for the embedded default)."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field, model_validator

from connectors.base import ActionSpec, Connector, Params
from connectors.twilio import TwilioSettings

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


class WhatsAppConnector(Connector):
    name = "whatsapp"
    settings_model = TwilioSettings
    actions: ClassVar[dict[str, ActionSpec]] = {
        "send": ActionSpec("send", SendWhatsAppParams, "Send a WhatsApp message",
                           channel="whatsapp", outputs=("message_sid",)),
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
