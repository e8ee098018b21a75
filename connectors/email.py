"""Email: SMTP, or the file transport of the embedded default.

A recipient is an address (the customer is found by it); the message is an
``Email`` composed from the rendered template's parts or the params'
subject and body.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from connectors.base import ActionCall, ActionSpec, ConnectorSettings, Params, Runtime
from connectors.messaging.base import MessagingConnector, TransportFactory
from connectors.messaging.file import FileTransport
from connectors.messaging.mime import Email, Envelope, addresses, display, message_id
from connectors.messaging.outgoing import Draft, Message
from connectors.messaging.smtp import SmtpTarget, SmtpTransport
from errors import PermanentError


class EmailSettings(ConnectorSettings):
    transport: Literal["smtp", "file"] = "file"
    host: str = "localhost"
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="starttls (port 587), tls (implicit, port 465) or none")
    username: str | None = None
    password: SecretStr | None = None
    from_: str = Field("despacho@example.com", alias="from")
    reply_to: str | None = Field(None, description="Default Reply-To when an action gives none")
    timeout: float = Field(10.0, gt=0, description="Seconds to wait for the server on each step")
    ca_file: str | None = Field(None, description="CA bundle to trust instead of the system's (private CAs)")
    max_connections: int = Field(4, ge=1, le=64, description="Idle SMTP connections kept for reuse")

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


def smtp_transport(settings: ConnectorSettings, runtime: Runtime, channel: str) -> SmtpTransport:
    assert isinstance(settings, EmailSettings)
    return SmtpTransport(SmtpTarget(
        host=settings.host, port=settings.port, security=settings.security,
        username=settings.username or None,
        password=settings.password.get_secret_value() if settings.password else None,
        timeout=settings.timeout, ca_file=settings.ca_file), max_idle=settings.max_connections)


class EmailConnector(MessagingConnector):
    name = "email"
    channel = "email"
    addressed_by = "email"
    id_output = "message_id"
    settings_model = EmailSettings
    transports: ClassVar[dict[str, TransportFactory]] = {
        "file": FileTransport.for_connector, "smtp": smtp_transport}
    actions: ClassVar[dict[str, ActionSpec]] = {
        "send": ActionSpec("send", SendEmailParams, "Send an email", channel="email",
                           outputs=("message_id", "status", "notification_id")),
    }
    settings: EmailSettings

    def plan(self, action: str, params: Params, message: dict[str, str] | None) -> dict[str, Any]:
        assert isinstance(params, SendEmailParams)
        if message is None:
            return {"subject": params.subject, "text": params.body}
        return {key: message[key] for key in ("subject", "text", "html") if key in message}

    def compose(self, call: ActionCall) -> Draft:
        params = call.params
        assert isinstance(params, SendEmailParams)
        to = addresses(params.to)
        if not to:
            raise PermanentError(f"no recipient address in 'to' ({params.to!r})", code="no_recipient")
        envelope = Envelope(sender=self.settings.from_, to=to, cc=addresses(params.cc),
                            bcc=addresses(params.bcc), reply_to=params.reply_to or self.settings.reply_to)
        parts = call.message or {}
        subject = parts.get("subject") or params.subject or ""
        text = parts.get("text") or params.body or ""
        email = Email(envelope, subject, text, parts.get("html"),
                      message_id(call.idempotency_key, envelope.sender), tuple(params.attachments))
        copies = {"cc": list(envelope.cc), "bcc": list(envelope.bcc)} if envelope.cc or envelope.bcc else {}
        record = Message(channel="email", recipient=", ".join(display(a) for a in to), body=text,
                         subject=subject, template=params.template, extra=copies)
        return Draft(email, record, address=display(to[0]))
