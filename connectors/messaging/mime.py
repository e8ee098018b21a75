"""An email as SMTP carries it: addresses, text and HTML parts, attachments, a stable Message-ID.

The bytes are written here directly rather than built with ``email.mime``
and flattened by ``email.generator``: the generator refolds every header and
compiles a regular expression per boundary, and took about 0.5 ms a message,
as long as the SMTP exchange on a reused connection. What is written is
plain RFC 5322 / 2045: CRLF line ends, quoted-printable UTF-8 text (it keeps
Portuguese readable in the raw message, and no quoted-printable or base64
line can contain a boundary that starts with ``=_``), RFC 2047 encoded words
for non-ASCII names and subjects, RFC 2231 for non-ASCII file names.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass
from email.header import Header
from email.utils import encode_rfc2231, formataddr, formatdate, getaddresses, quote
from functools import lru_cache
from pathlib import Path
from typing import Any

from errors import PermanentError

CRLF = "\r\n"
# RFC 5322 asks for header lines of at most 78 characters
LINE = 78


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
        return tuple(dict.fromkeys(display(a) for a in (*self.to, *self.cc, *self.bcc)))


@dataclass(frozen=True)
class Email:
    """One email, ready for a transport: SMTP sends ``raw()``, the file transport ``file_entry()``."""

    envelope: Envelope
    subject: str
    text: str
    html: str | None
    message_id: str
    attachments: tuple[str, ...] = ()

    def raw(self) -> bytes:
        """The message as SMTP's DATA carries it; raises ``PermanentError`` for an unreadable attachment."""
        return compose(self)

    def file_entry(self) -> dict[str, Any]:
        for name in self.attachments:  # the outbox refuses what SMTP would refuse
            _read(Path(name))
        envelope = self.envelope
        return {"message_id": self.message_id, "from": envelope.sender, "to": list(envelope.to),
                "cc": list(envelope.cc), "bcc": list(envelope.bcc), "reply_to": envelope.reply_to,
                "subject": self.subject, "text": self.text, "html": self.html,
                "attachments": list(self.attachments)}


def addresses(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """A list of addresses from a list, or a comma-separated string (what a template renders)."""
    if value is None:
        return ()
    items = [value] if isinstance(value, str) else list(value)
    return tuple(_named(name, addr) for name, addr in getaddresses(items) if addr.strip())


def _named(name: str, address: str) -> str:
    if not name:
        return address
    # a name with a comma or another special stays quoted, so it is not read back as two addresses
    if any(char in name for char in '()<>@,;:\\".[]'):
        return f'"{quote(name)}" <{address}>'
    return f"{name} <{address}>"


def message_id(idempotency_key: str, sender: str) -> str:
    """The same for every attempt of a step, so a receiver can spot a message sent twice."""
    domain = display(sender).rpartition("@")[2] or "despacho.local"
    return f"<{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}@{domain}>"


@lru_cache(maxsize=4096)
def display(address: str) -> str:
    """The plain address part, for records and the SMTP envelope (the sender's on every message)."""
    parsed = getaddresses([address])
    return parsed[0][1] if parsed else address


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
    token = email.message_id.strip("<>").partition("@")[0]
    body = _text_part("plain", email.text)
    if email.html:
        body = _multipart("alternative", f"=_alt_{token}", [body, _text_part("html", email.html)])
    if email.attachments:
        parts = [body, *(_attachment(Path(name)) for name in email.attachments)]
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


def _attachment(path: Path) -> bytes:
    data = _read(path)
    kind, encoding = mimetypes.guess_type(path.name)
    if kind is None or encoding is not None:
        kind = "application/octet-stream"
    if path.name.isascii():
        filename = f'filename="{quote(path.name)}"'
    else:
        filename = f"filename*={encode_rfc2231(path.name, 'utf-8')}"
    head = (f"Content-Type: {kind}{CRLF}Content-Transfer-Encoding: base64{CRLF}"
            f"Content-Disposition: attachment; {filename}{CRLF}{CRLF}")
    return head.encode("ascii") + base64.encodebytes(data).replace(b"\n", b"\r\n")


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        # the step that should have produced the file did not: retrying this one cannot help
        raise PermanentError(f"attachment {path} cannot be read: {exc.strerror or exc}",
                             code="attachment_missing") from exc


def _addresses_header(name: str, items: Sequence[str]) -> str:
    """``To: a, b, ...`` folded between addresses when a line would pass 78 characters."""
    line, lines = f"{name}:", []
    for number, item in enumerate(items):
        text = _address(item) + ("," if number < len(items) - 1 else "")
        if len(line) + 1 + len(text) > LINE and line.strip().endswith(","):
            lines.append(line)
            line = ""
        line += " " + text
    return CRLF.join([*lines, line])


@lru_cache(maxsize=1024)
def _address(item: str) -> str:
    """``Name <addr>``; a non-ASCII name as one RFC 2047 encoded word (split in two, readers
    put a space between the halves). Cached: the sender's is the same every time."""
    parsed = getaddresses([item])
    name, address = parsed[0] if parsed else ("", item)
    return formataddr((_one_line(name), address), "utf-8")


def _subject_header(subject: str) -> str:
    subject = _one_line(subject)
    if subject.isascii() and len(subject) <= LINE - len("Subject: "):
        return f"Subject: {subject}"
    charset = None if subject.isascii() else "utf-8"
    encoded = Header(subject, charset, maxlinelen=LINE - 2, header_name="Subject").encode(linesep=CRLF)
    return f"Subject: {encoded}"


def _one_line(text: str) -> str:
    """A rendered template may end its subject with a newline; inside a header it would end the header."""
    return " ".join(text.splitlines()).strip()
