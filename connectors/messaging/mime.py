"""An email as SMTP carries it: addresses, text and HTML parts, attachments, a stable Message-ID.

The bytes are written here directly rather than built with ``email.mime``
and flattened by ``email.generator``: the generator refolds every header and
compiles a regular expression per boundary, and took about 0.5 ms a message,
as long as the SMTP exchange on a reused connection. What is written is
plain RFC 5322 / 2045: CRLF line ends, quoted-printable UTF-8 text (it keeps
Portuguese readable in the raw message, and no quoted-printable or base64
line can contain a boundary that starts with ``=_``), RFC 2047 encoded words
for non-ASCII names and subjects, RFC 2231 for non-ASCII file names.

Addresses arrive parsed (``headers.parse_address``) and attachments read
(``attachments.AttachmentFolders``); a subject or file name is checked
again here, so no caller can put a line break into a header.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.utils import encode_rfc2231, formatdate, quote
from typing import Any

from connectors.messaging.attachments import Attachment
from connectors.messaging.headers import EmailAddress, check_text, header_address

CRLF = "\r\n"
# RFC 5322 asks for header lines of at most 78 characters
LINE = 78


@dataclass(frozen=True)
class Envelope:
    sender: EmailAddress
    to: tuple[EmailAddress, ...]
    cc: tuple[EmailAddress, ...] = ()
    bcc: tuple[EmailAddress, ...] = ()
    reply_to: EmailAddress | None = None

    @property
    def recipients(self) -> tuple[str, ...]:
        """Everyone the server is asked to deliver to; Bcc is here and in no header."""
        return tuple(dict.fromkeys(a.addr_spec for a in (*self.to, *self.cc, *self.bcc)))


@dataclass(frozen=True)
class Email:
    """One email, ready for a transport: SMTP sends ``raw()``, the file transport ``file_entry()``."""

    envelope: Envelope
    subject: str
    text: str
    html: str | None
    message_id: str
    attachments: tuple[Attachment, ...] = ()
    # further headers, name and one-line value (``List-Unsubscribe`` on marketing email)
    headers: tuple[tuple[str, str], ...] = ()

    def raw(self) -> bytes:
        """The message as SMTP's DATA carries it; raises ``PermanentError`` (``bad_header``)."""
        return compose(self)

    def file_entry(self) -> dict[str, Any]:
        envelope = self.envelope
        return {"message_id": self.message_id, "from": str(envelope.sender), "to": _strings(envelope.to),
                "cc": _strings(envelope.cc), "bcc": _strings(envelope.bcc),
                "reply_to": str(envelope.reply_to) if envelope.reply_to else None,
                "subject": check_text(self.subject, "subject"), "text": self.text, "html": self.html,
                "attachments": [a.source for a in self.attachments],
                **({"headers": dict(self.headers)} if self.headers else {})}


def _strings(addresses: Sequence[EmailAddress]) -> list[str]:
    return [str(a) for a in addresses]


def message_id(idempotency_key: str, sender: EmailAddress) -> str:
    """The same for every attempt of a step, so a receiver can spot a message sent twice."""
    domain = sender.domain or "despacho.local"
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}@{domain}>"


def compose(email: Email) -> bytes:
    """Headers, then text, or text + HTML alternatives, then attachments (``multipart/mixed``)."""
    envelope = email.envelope
    headers = [_addresses_header("From", [envelope.sender]), _addresses_header("To", envelope.to)]
    if envelope.cc:
        headers.append(_addresses_header("Cc", envelope.cc))
    if envelope.reply_to:
        headers.append(_addresses_header("Reply-To", [envelope.reply_to]))
    headers += [_subject_header(email.subject), f"Date: {formatdate(usegmt=True)}",
                f"Message-ID: {email.message_id}", "MIME-Version: 1.0"]
    headers += [f"{name}: {check_text(value, name)}" for name, value in email.headers]
    token = email.message_id.strip("<>").partition("@")[0]
    body = _text_part("plain", email.text)
    if email.html:
        body = _multipart("alternative", f"=_alt_{token}", [body, _text_part("html", email.html)])
    if email.attachments:
        parts = [body, *(_attachment(attachment) for attachment in email.attachments)]
        body = _multipart("mixed", f"=_mix_{token}", parts)
    return (CRLF.join(headers) + CRLF).encode("ascii") + body


def _text_part(subtype: str, text: str) -> bytes:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", CRLF)
    encoded = binascii.b2a_qp(lines.encode("utf-8"), istext=True)
    return (f'Content-Type: text/{subtype}; charset="utf-8"{CRLF}'
            f"Content-Transfer-Encoding: quoted-printable{CRLF}{CRLF}").encode("ascii") + encoded


def _multipart(subtype: str, boundary: str, parts: Sequence[bytes]) -> bytes:
    separator = f"{CRLF}--{boundary}{CRLF}".encode("ascii")
    head = f'Content-Type: multipart/{subtype};{CRLF} boundary="{boundary}"{CRLF}{CRLF}'.encode("ascii")
    return head + separator.lstrip(b"\r\n") + separator.join(parts) + f"{CRLF}--{boundary}--{CRLF}".encode()


def _attachment(attachment: Attachment) -> bytes:
    name = check_text(attachment.filename, "attachment file name")
    kind, encoding = mimetypes.guess_type(name)
    if kind is None or encoding is not None:
        kind = "application/octet-stream"
    filename = (f'filename="{quote(name)}"' if name.isascii()
                else f"filename*={encode_rfc2231(name, 'utf-8')}")
    head = (f"Content-Type: {kind}{CRLF}Content-Transfer-Encoding: base64{CRLF}"
            f"Content-Disposition: attachment; {filename}{CRLF}{CRLF}")
    return head.encode("ascii") + base64.encodebytes(attachment.data).replace(b"\n", b"\r\n")


def _addresses_header(name: str, items: Sequence[EmailAddress]) -> str:
    """``To: a, b, ...`` folded between addresses when a line would pass 78 characters."""
    line, lines = f"{name}:", []
    for number, item in enumerate(items):
        text = header_address(item) + ("," if number < len(items) - 1 else "")
        if len(line) + 1 + len(text) > LINE and line.strip().endswith(","):
            lines.append(line)
            line = ""
        line += " " + text
    return CRLF.join([*lines, line])


def _subject_header(subject: str) -> str:
    subject = check_text(subject, "subject")
    if subject.isascii() and len(subject) <= LINE - len("Subject: "):
        return f"Subject: {subject}"
    charset = None if subject.isascii() else "utf-8"
    encoded = Header(subject, charset, maxlinelen=LINE - 2, header_name="Subject").encode(linesep=CRLF)
    return f"Subject: {encoded}"
