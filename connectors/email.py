"""Email over SMTP (and a file transport for the embedded default)."""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from connectors.base import ActionSpec, Connector, ConnectorSettings, Params


class EmailSettings(ConnectorSettings):
    transport: Literal["smtp", "file"] = "file"
    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    from_: str = Field("despacho@example.com", alias="from")
    timeout: float = 10.0

Recipients = str | list[str]


class SendEmailParams(Params):
    """Send an email from a template (``templates/email/<name>.*``) or a subject and body."""

    to: Recipients = Field(description="Recipient address or list of addresses")
    cc: Recipients | None = None
    bcc: Recipients | None = None
    reply_to: str | None = None
    template: str | None = Field(None, description="Name of a template under templates/email/")
    subject: str | None = None
    body: str | None = Field(None, description="Plain-text body when no template is used")
    attachments: list[str] = Field(default_factory=list, description="Paths of files to attach")

    @model_validator(mode="after")
    def _template_or_text(self) -> SendEmailParams:
        if self.template and (self.subject or self.body):
            raise ValueError("give either 'template' or 'subject' + 'body', not both")
        if not self.template and not (self.subject and self.body):
            raise ValueError("give 'template', or both 'subject' and 'body'")
        return self


class EmailConnector(Connector):
    name = "email"
    settings_model = EmailSettings
    actions: ClassVar[dict[str, ActionSpec]] = {
        "send": ActionSpec("send", SendEmailParams, "Send an email", channel="email",
                           outputs=("message_id",)),
    }

    def plan(self, action: str, params: Params, message: dict[str, str] | None) -> dict[str, Any]:
        assert isinstance(params, SendEmailParams)
        if message is None:
            return {"subject": params.subject, "text": params.body}
        return {key: message[key] for key in ("subject", "text", "html") if key in message}
