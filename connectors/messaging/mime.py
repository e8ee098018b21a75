"""Composing an email: addresses, plain-text and HTML parts, attachments, a stable Message-ID."""

from __future__ import annotations

import hashlib
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from email import encoders
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from email.utils import formataddr, formatdate, getaddresses
from pathlib import Path

from errors import PermanentError

# quoted-printable keeps Portuguese text readable in the raw message (base64 would not)
_UTF8 = Charset("utf-8")
_UTF8.body_encoding = QP


@dataclass(frozen=True)
class Envelope:
    sender: str
    to: tuple[str, ...]
    cc: tuple[str, ...] = ()
    bcc: tuple[str, ...] = ()
    reply_to: str | None = None

    @property
    def recipients(self) -> tuple[str, ...]:
        """Everyone the server is asked to deliver to; Bcc is here and in no header."""
        return tuple(dict.fromkeys(_bare(a) for a in (*self.to, *self.cc, *self.bcc)))


def addresses(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """A list of addresses from a list, or a comma-separated string (what a template renders)."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    found = [f"{name} <{addr}>" if name else addr for name, addr in getaddresses(items) if addr.strip()]
    return tuple(found)


def message_id(idempotency_key: str, sender: str) -> str:
    """The same for every attempt of a step, so a receiver can spot a message sent twice."""
    domain = _bare(sender).rpartition("@")[2] or "despacho.local"
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}@{domain}>"


def compose(envelope: Envelope, subject: str, text: str, html: str | None, *,
            idempotency_key: str, attachments: Sequence[str] = ()) -> Message:
    """The MIME message: text, or text + HTML alternatives, then attachments (``multipart/mixed``).

    Built with the ``email.mime`` classes rather than ``EmailMessage``: the
    latter parses every header it is given and took 4x as long, most of the
    connector's cost per message on a reused connection.
    """
    body: Message = MIMEText(text, "plain", _UTF8)
    if html:
        alternative = MIMEMultipart("alternative")
        alternative.attach(body)
        alternative.attach(MIMEText(html, "html", _UTF8))
        body = alternative
    files = [_attachment(Path(name)) for name in attachments]
    message = body
    if files:
        message = MIMEMultipart("mixed")
        message.attach(body)
        for part in files:
            message.attach(part)
    message["From"] = _header_addresses([envelope.sender])
    message["To"] = _header_addresses(envelope.to)
    if envelope.cc:
        message["Cc"] = _header_addresses(envelope.cc)
    if envelope.reply_to:
        message["Reply-To"] = _header_addresses([envelope.reply_to])
    message["Subject"] = Header(subject, "utf-8") if not subject.isascii() else subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = message_id(idempotency_key, envelope.sender)
    return message


def _header_addresses(items: Sequence[str]) -> str:
    return ", ".join(formataddr((name, address), "utf-8") for name, address in getaddresses(list(items)))


def _attachment(path: Path) -> MIMEBase:
    try:
        data = path.read_bytes()
    except OSError as exc:
        # the step that should have produced the file did not: retrying this one cannot help
        raise PermanentError(f"attachment {path} cannot be read: {exc.strerror or exc}",
                             code="attachment_missing") from exc
    kind, encoding = mimetypes.guess_type(path.name)
    if kind is None or encoding is not None:
        kind = "application/octet-stream"
    maintype, subtype = kind.split("/", 1)
    part = MIMEBase(maintype, subtype)
    part.set_payload(data)
    encoders.encode_base64(part)
    filename: str | tuple[str, str, str] = path.name if path.name.isascii() else ("utf-8", "", path.name)
    part.add_header("Content-Disposition", "attachment", filename=filename)
    return part


def _bare(address: str) -> str:
    parsed = getaddresses([address])
    return parsed[0][1] if parsed else address


def display(address: str) -> str:
    """The plain address part, for records and messages."""
    return _bare(address)

