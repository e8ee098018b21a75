"""Email over SMTP (and a file transport for the embedded default)."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import Field, SecretStr, model_validator

from connectors.base import ActionCall, ActionSpec, Connector, ConnectorSettings, Params, Runtime
from connectors.email_message import Envelope, addresses, compose, display
from connectors.notifications import Ledger, Message, Sent, recorded
from connectors.outbox import write_once
from errors import PermanentError

if TYPE_CHECKING:
    from sqlmodel import Session

    from connectors.smtp_transport import SmtpTransport
    from store.models import Customer


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


class EmailConnector(Connector):
    name = "email"
    settings_model = EmailSettings
    actions: ClassVar[dict[str, ActionSpec]] = {
        "send": ActionSpec("send", SendEmailParams, "Send an email", channel="email",
                           outputs=("message_id", "status", "notification_id")),
    }
    settings: EmailSettings

    def __init__(self, settings: ConnectorSettings | None = None, runtime: Runtime | None = None) -> None:
        super().__init__(settings, runtime)
        self._transport: SmtpTransport | None = None
        self._transport_lock = threading.Lock()

    @property
    def transport(self) -> SmtpTransport:
        """One transport per connector, so its connections are reused across sends."""
        from connectors.smtp_transport import SmtpTarget, SmtpTransport

        with self._transport_lock:
            if self._transport is None:
                s = self.settings
                self._transport = SmtpTransport(SmtpTarget(
                    host=s.host, port=s.port, security=s.security, username=s.username or None,
                    password=s.password.get_secret_value() if s.password else None,
                    timeout=s.timeout, ca_file=s.ca_file), max_idle=s.max_connections)
            return self._transport

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()

    def check(self) -> dict[str, Any]:
        if self.settings.transport == "file":
            folder = self.runtime.outbox / "email"
            return {"target": f"file:{folder}", "detail": "messages are written as JSON files"}
        return self.transport.check()

    def plan(self, action: str, params: Params, message: dict[str, str] | None) -> dict[str, Any]:
        assert isinstance(params, SendEmailParams)
        if message is None:
            return {"subject": params.subject, "text": params.body}
        return {key: message[key] for key in ("subject", "text", "html") if key in message}

    def execute(self, call: ActionCall) -> dict[str, Any]:
        params = call.params
        assert isinstance(params, SendEmailParams)
        envelope = self._envelope(params)
        parts = call.message or {}
        subject = parts.get("subject") or params.subject or ""
        text = parts.get("text") or params.body or ""
        html = parts.get("html")
        ledger = Ledger(self.runtime, "email")
        first = display(envelope.to[0])

        def customer(session: Session) -> Customer | None:
            from store.messaging import customer_by_email

            return customer_by_email(session, first)

        record = Message(channel="email", recipient=", ".join(display(a) for a in envelope.to),
                         body=text, subject=subject, template=params.template,
                         extra={"cc": list(envelope.cc), "bcc": list(envelope.bcc)} if envelope.cc
                         or envelope.bcc else {})
        attempt = ledger.begin(call, record, customer=customer)
        if attempt.previous is not None:
            return _outputs(attempt.previous)

        def send() -> Sent:
            message = compose(envelope, subject, text, html, idempotency_key=call.idempotency_key,
                              attachments=params.attachments)
            if self.settings.transport == "file":
                return self._write_file(call, envelope, message["Message-ID"], subject, text, html,
                                        params.attachments)
            refused = self.transport.send(message, display(envelope.sender), envelope.recipients)
            if not refused:
                return Sent("smtp", message["Message-ID"])
            # some recipients refused, others accepted: a retry would resend to those who got it
            named = "; ".join(f"{a}: {c} {t}" for a, (c, t) in refused.items())
            return Sent("smtp", message["Message-ID"], detail=f"refused by the server: {named}",
                        outputs={"refused": sorted(refused)})

        return _outputs(recorded(attempt, send))

    def _envelope(self, params: SendEmailParams) -> Envelope:
        to = addresses(params.to)
        if not to:
            raise PermanentError(f"no recipient address in 'to' ({params.to!r})", code="no_recipient")
        return Envelope(sender=self.settings.from_, to=to, cc=addresses(params.cc), bcc=addresses(params.bcc),
                        reply_to=params.reply_to or self.settings.reply_to)

    def _write_file(self, call: ActionCall, envelope: Envelope, msg_id: str, subject: str, text: str,
                    html: str | None, attachments: list[str]) -> Sent:
        write_once(self.runtime.outbox, "email", call.idempotency_key, {
            "message_id": msg_id, "from": envelope.sender, "to": list(envelope.to), "cc": list(envelope.cc),
            "bcc": list(envelope.bcc), "reply_to": envelope.reply_to, "subject": subject, "text": text,
            "html": html, "attachments": attachments,
        })
        return Sent("file", msg_id, "sent")


def _outputs(recorded_outputs: dict[str, Any]) -> dict[str, Any]:
    outputs = {"message_id": recorded_outputs["provider_id"], "status": recorded_outputs["status"],
               "notification_id": recorded_outputs.get("notification_id")}
    for extra in ("refused", "duplicate"):
        if recorded_outputs.get(extra):
            outputs[extra] = recorded_outputs[extra]
    return outputs

