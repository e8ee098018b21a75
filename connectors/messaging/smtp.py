"""The SMTP transport: connections opened with TLS and AUTH, kept and reused.

Opening a connection costs a TCP handshake, EHLO, often a TLS handshake and
AUTH; on loopback a reused connection sends about twice as many messages a
second. Idle connections wait in a small pool (one per worker thread that
sends at once); one that was idle a while is checked with NOOP first, and
one the server closed is replaced and the message sent once more.
"""

from __future__ import annotations

import smtplib
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from connectors.messaging.mime import Email
from connectors.messaging.outgoing import Sent
from errors import ConnectorError, PermanentError, TransientError

Security = Literal["starttls", "tls", "none"]
# a connection idle longer than this is probed with NOOP before it is trusted
PROBE_AFTER_IDLE = 10.0


@dataclass(frozen=True)
class SmtpTarget:
    host: str
    port: int
    security: Security = "starttls"
    username: str | None = None
    password: str | None = None
    timeout: float = 10.0
    ca_file: str | None = None

    def describe(self) -> str:
        scheme = "smtps" if self.security == "tls" else "smtp"
        return f"{scheme}://{self.host}:{self.port} ({self.security})"


class SmtpTransport:
    name = "smtp"
    opted_out_codes: frozenset[str] = frozenset()

    def __init__(self, target: SmtpTarget, max_idle: int = 4) -> None:
        self.target = target
        self.max_idle = max_idle
        self._idle: list[tuple[smtplib.SMTP, float]] = []
        self._lock = threading.Lock()
        self.connections_opened = 0

    # --- connections -----------------------------------------------------------------------------

    def _tls_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.target.ca_file)

    def open(self) -> smtplib.SMTP:
        """A connection ready to send: greeted, encrypted as configured, authenticated."""
        target = self.target
        try:
            conn = self._connect()
            try:
                if target.security == "starttls":
                    conn.ehlo()
                    if not conn.has_extn("starttls"):
                        raise PermanentError(f"{target.describe()} does not offer STARTTLS "
                                             f"(set security: none only for a server on a private network)",
                                             code="smtp_no_starttls")
                    conn.starttls(context=self._tls_context())
                conn.ehlo()
                if target.username:
                    conn.login(target.username, target.password or "")
            except BaseException:
                _close(conn)
                raise
        except ConnectorError:
            raise
        except (smtplib.SMTPException, OSError) as exc:
            raise classify(exc, (), target) from exc
        self.connections_opened += 1
        return conn

    def _connect(self) -> smtplib.SMTP:
        target = self.target
        if target.security == "tls":
            return smtplib.SMTP_SSL(target.host, target.port, timeout=target.timeout,
                                    context=self._tls_context())
        return smtplib.SMTP(target.host, target.port, timeout=target.timeout)

    def _acquire(self) -> tuple[smtplib.SMTP, bool]:
        with self._lock:
            while self._idle:
                conn, since = self._idle.pop()
                if time.monotonic() - since < PROBE_AFTER_IDLE or _answers_noop(conn):
                    return conn, True
                _close(conn)
        return self.open(), False

    def _release(self, conn: smtplib.SMTP) -> None:
        with self._lock:
            if len(self._idle) < self.max_idle:
                self._idle.append((conn, time.monotonic()))
                return
        _close(conn)

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for conn, _ in idle:
            _close(conn)

    # --- sending ---------------------------------------------------------------------------------

    def send(self, message: Email, idempotency_key: str) -> Sent:
        """Send one email; recipients refused while others were accepted are in the outputs.

        Raises ``TransientError`` or ``PermanentError`` (see ``classify``).
        """
        refused = self.send_raw(message.raw(), message.envelope.sender.addr_spec, message.envelope.recipients)
        if not refused:
            return Sent(self.name, message.message_id)
        # some recipients refused, others accepted: a retry would resend to those who got it
        named = "; ".join(f"{a}: {c} {t}" for a, (c, t) in refused.items())
        return Sent(self.name, message.message_id, detail=f"refused by the server: {named}",
                    outputs={"refused": sorted(refused)})

    def send_raw(self, data: bytes, sender: str, recipients: Sequence[str]) -> dict[str, tuple[int, str]]:
        """Send a message's bytes; returns the recipients the server refused while accepting others."""
        conn, reused = self._acquire()
        try:
            try:
                refused = _sendmail(conn, data, sender, recipients)
            except smtplib.SMTPServerDisconnected:
                if not reused:
                    raise
                # the server dropped a kept connection while it sat idle: once more on a new one
                _close(conn)
                conn = self.open()
                refused = _sendmail(conn, data, sender, recipients)
        except (smtplib.SMTPException, OSError) as exc:
            _close(conn)
            raise classify(exc, recipients, self.target) from exc
        except BaseException:
            _close(conn)
            raise
        self._release(conn)
        return {address: (code, _text(reply)) for address, (code, reply) in refused.items()}

    def check(self) -> dict[str, str]:
        """Connect, EHLO, TLS and AUTH as configured, then QUIT: nothing is sent."""
        conn = self.open()
        try:
            features = sorted(conn.esmtp_features)
        finally:
            _close(conn)
        auth = f", AUTH as {self.target.username}" if self.target.username else ", no AUTH"
        return {"target": self.target.describe(),
                "detail": f"EHLO ok{auth}; extensions: {', '.join(features)}"}


def classify(exc: BaseException, recipients: Sequence[str], target: SmtpTarget) -> ConnectorError:
    """4xx and lost connections are worth a retry; 5xx, refused recipients and bad AUTH are not."""
    where = target.describe()
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = {address: code for address, (code, _) in exc.recipients.items()}
        named = "; ".join(f"{address}: {code} {_text(reply)}"
                          for address, (code, reply) in exc.recipients.items())
        if all(400 <= code < 500 for code in codes.values()):
            return TransientError(f"recipients deferred by {where}: {named}", retry_after=60)
        first = next(code for code in codes.values() if code >= 500)
        return PermanentError(f"recipient refused by {where}: {named}", code=f"smtp_{first}")
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return PermanentError(f"authentication as {target.username} failed at {where}: "
                              f"{exc.smtp_code} {_text(exc.smtp_error)}", code=f"smtp_{exc.smtp_code}")
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return PermanentError(f"{where}: {exc} (check security: starttls|tls|none and the port)",
                              code="smtp_not_supported")
    if isinstance(exc, smtplib.SMTPResponseException):
        code = exc.smtp_code
        sender = f" for sender {exc.sender}" if isinstance(exc, smtplib.SMTPSenderRefused) else ""
        text = f"{where} answered {code} {_text(exc.smtp_error)}{sender}"
        if 400 <= code < 500 or code < 0:
            return TransientError(text, retry_after=60)
        return PermanentError(f"{text} (to {', '.join(recipients)})" if recipients else text,
                              code=f"smtp_{code}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentError(f"TLS certificate of {where} not trusted: {exc.verify_message} "
                              f"(set ca_file for a private CA)", code="smtp_tls_verify")
    if isinstance(exc, TimeoutError):
        return TransientError(f"{where} timed out after {target.timeout:g}s")
    return TransientError(f"cannot reach {where}: {exc}")


def _sendmail(conn: smtplib.SMTP, data: bytes, sender: str, recipients: Sequence[str]) -> dict[str, Any]:
    """``sendmail``, asking for SMTPUTF8 when an address needs it (as ``send_message`` does)."""
    options: list[str] = []
    if not all(address.isascii() for address in (sender, *recipients)):
        if not conn.has_extn("smtputf8"):
            raise smtplib.SMTPNotSupportedError(
                "One or more source or delivery addresses require internationalized email support, "
                "but the server does not advertise the required SMTPUTF8 capability")
        options = ["SMTPUTF8", "BODY=8BITMIME"]
    return conn.sendmail(sender, list(recipients), data, options)


def _answers_noop(conn: smtplib.SMTP) -> bool:
    try:
        return conn.noop()[0] == 250
    except (smtplib.SMTPException, OSError):
        return False


def _close(conn: smtplib.SMTP) -> None:
    try:
        conn.quit()
    except (smtplib.SMTPException, OSError):
        conn.close()


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else str(reply)
