"""Email: SMTP, or the file transport of the embedded default.

A recipient is an address (the customer is found by it); the message is an
``Email`` composed from the rendered template's parts or the params'
subject and body. Every header value is checked (``messaging.headers``: one
address per item, no line breaks) and every attachment read from an allowed
folder (``messaging.attachments``) before anything is sent; a refusal is
recorded as a failed notification and raised.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from connectors.base import ActionCall, ActionSpec, ConnectorSettings, Params, Runtime
from connectors.messaging.attachments import AttachmentFolders
from connectors.messaging.base import MessagingConnector, TransportFactory
from connectors.messaging.file import FileTransport
from connectors.messaging.headers import check_text, parse_address, parse_addresses
from connectors.messaging.mime import Email, Envelope, message_id
from connectors.messaging.outgoing import Draft, Message
from connectors.messaging.purpose import MessageParams, purpose_of
from connectors.messaging.smtp import SmtpTarget, SmtpTransport
from connectors.messaging.unsubscribe import PATH as UNSUBSCRIBE_PATH
from connectors.messaging.unsubscribe import UnsubscribeLinks, one_click_headers, with_footer
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
    attachments_dir: Path = Field(
        Path("var/attachments"), description="The only folder attachments named by a rule or by event data "
                                             "are read from (files earlier steps produced may also come "
                                             "from the outbox folder)")

    @field_validator("from_", "reply_to")
    @classmethod
    def _one_address(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                parse_address(value, "address")
            except PermanentError as exc:
                raise ValueError(str(exc).removeprefix("address: ")) from exc
        return value

Recipients = str | list[str]


class SendEmailParams(MessageParams):
    """Send an email from a template (``templates/email/<name>.*``) or a subject and body."""

    to: Recipients = Field(description="Recipient address or list of addresses, one address per item")
    cc: Recipients | None = None
    bcc: Recipients | None = None
    reply_to: str | None = None
    template: str | None = Field(None, description="Name of a template under templates/email/")
    subject: str | None = None
    body: str | None = Field(None, description="Plain-text body when no template is used")
    attachments: list[str] = Field(default_factory=list, description="Files to attach: paths relative to "
                                   "connectors.email.attachments_dir, or a file an earlier step produced")

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
            preview: dict[str, Any] = {"subject": params.subject, "text": params.body}
        else:
            preview = {key: message[key] for key in ("subject", "text", "html") if key in message}
        if purpose_of(params) == "marketing":
            base = (self.runtime.public_url or "").rstrip("/")
            preview["unsubscribe"] = (f"{base}{UNSUBSCRIBE_PATH}?t=... "
                                      "(footer link and one-click List-Unsubscribe headers, RFC 8058)")
        try:  # dry-run shows what the send would refuse (attachments are read only when sending)
            self._envelope(params)
            check_text((preview.get("subject") or "").strip(), "subject")
        except PermanentError as refused:
            preview["warning"] = f"{refused.code}: {refused}"
        return preview

    @property
    def attachment_folders(self) -> AttachmentFolders:
        return AttachmentFolders(folder=self.settings.attachments_dir, produced=self.runtime.outbox)

    def compose(self, call: ActionCall) -> Draft:
        params = call.params
        assert isinstance(params, SendEmailParams)
        parts = call.message or {}
        subject = (parts.get("subject") or params.subject or "").strip()
        text = parts.get("text") or params.body or ""
        # until the addresses are known good, the row shows the raw value, escaped onto one line
        record = Message(channel="email", recipient=ascii(params.to)[:254], body=text, subject=subject,
                         template=params.template)
        try:
            email = self._email(call, params, subject, text, parts.get("html"))
        except PermanentError as refused:
            return Draft(None, record, refusal=refused)
        envelope = email.envelope
        record.subject = email.subject
        record.recipient = ", ".join(a.addr_spec for a in envelope.to)
        if envelope.cc or envelope.bcc:
            record.extra = {"cc": [a.addr_spec for a in envelope.cc],
                            "bcc": [a.addr_spec for a in envelope.bcc]}
        return Draft(email, record, address=envelope.to[0].addr_spec, recipients=envelope.recipients)

    def _email(self, call: ActionCall, params: SendEmailParams, subject: str, text: str,
               html: str | None) -> Email:
        """The email, every header checked and every attachment read; raises ``PermanentError``."""
        envelope = self._envelope(params)
        folders = self.attachment_folders
        attachments = tuple(folders.read(source, call.files) for source in params.attachments)
        headers: tuple[tuple[str, str], ...] = ()
        if purpose_of(params) == "marketing":
            # the link is the first recipient's: a marketing email goes to one customer
            url = self.unsubscribe_links().url_for(envelope.to[0].addr_spec)
            text, html = with_footer(text, html, url)
            headers = one_click_headers(url)
        return Email(envelope, check_text(subject, "subject"), text, html,
                     message_id(call.idempotency_key, envelope.sender), attachments, headers)

    def unsubscribe_links(self) -> UnsubscribeLinks:
        """The links of this deployment; a marketing email without one is refused (LGPD art. 18)."""
        runtime = self.runtime
        if runtime.secrets is None or not runtime.public_url:
            raise PermanentError("a marketing email needs an unsubscribe link, and this process has no "
                                 "secrets store or api.public_url to make one", code="no_unsubscribe_link")
        return UnsubscribeLinks(runtime.secrets(), runtime.public_url)

    def _envelope(self, params: SendEmailParams) -> Envelope:
        """Every address parsed, one per item; raises ``PermanentError`` (bad_header, no_recipient)."""
        to = parse_addresses(params.to, "to")
        if not to:
            raise PermanentError(f"no recipient address in 'to' ({params.to!r})", code="no_recipient")
        reply_to = params.reply_to or self.settings.reply_to
        return Envelope(sender=parse_address(self.settings.from_, "from"), to=to,
                        cc=parse_addresses(params.cc, "cc"), bcc=parse_addresses(params.bcc, "bcc"),
                        reply_to=parse_address(reply_to, "reply_to") if reply_to else None)
