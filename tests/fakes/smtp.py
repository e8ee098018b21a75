"""SMTP servers on loopback: aiosmtpd with STARTTLS or implicit TLS and AUTH, and a busy one.

Certificates come from a ``trustme`` CA; clients trust it through its PEM
file (the email connector's ``ca_file``).
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Literal

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.fakes.ports import free_port

USERNAME, PASSWORD = "despacho", "s3cret"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    session: int  # which connection brought it


@dataclass
class Mailbox:
    """The server's behaviour and what it received."""

    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> reply, e.g. "550 5.1.1 ..."
    data_reply: str | None = None  # answer DATA with this instead of accepting
    received: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    @property
    def connections(self) -> int:
        return len({r.session for r in self.received})

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          rcpt_options: list[str]) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_reply:
            return self.data_reply
        parsed = message_from_bytes(envelope.original_content or envelope.content, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, id(session)))
        return "250 Message accepted for delivery"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str,
                     auth_data: Any) -> AuthResult:
        if isinstance(auth_data, LoginPassword):
            user, password = auth_data.login.decode(), auth_data.password.decode()
            if (user, password) == (USERNAME, PASSWORD):
                self.logins.append(user)
                return AuthResult(success=True)
        return AuthResult(success=False, handled=False)


@dataclass
class SmtpServer:
    host: str
    port: int
    mailbox: Mailbox
    ca_file: str | None
    security: str


@contextmanager
def smtp_server(ca: trustme.CA, folder: Path, security: Literal["starttls", "tls", "none"] = "starttls",
                *, auth: bool = True, idle_timeout: float = 300) -> Iterator[SmtpServer]:
    """An aiosmtpd server on loopback; with ``auth`` it wants USERNAME/PASSWORD (over TLS)."""
    mailbox = Mailbox()
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    ca_file = folder / "smtp-ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    options: dict[str, Any] = {"timeout": idle_timeout}
    if auth:
        options.update(authenticator=mailbox.authenticate, auth_required=True)
    if security == "starttls":
        options.update(tls_context=context, require_starttls=True)
    elif security == "tls":
        options.update(ssl_context=context, auth_require_tls=False)
    else:
        options.update(auth_require_tls=False)
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, **options)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, mailbox, str(ca_file), security)
    finally:
        controller.stop()


@contextmanager
def busy_smtp_server(greeting: str = "421 4.3.2 mx.example busy, try again later") -> Iterator[int]:
    """A server that greets every connection with ``greeting`` and hangs up (a busy MX)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        listener.settimeout(0.1)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.sendall(greeting.encode() + b"\r\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(listener.getsockname()[1])
    finally:
        stop.set()
        thread.join(2)
        listener.close()
