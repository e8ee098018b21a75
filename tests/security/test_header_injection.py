"""Header and recipient injection through event data, replayed: no extra header, no extra recipient.

Each attack puts CR/LF (or a second address) into a value a rule renders
into ``to``, ``cc``, ``bcc``, ``reply_to``, a display name or the subject.
The event goes through the engine and the email connector to a real SMTP
server: the server receives nothing, and the step is dead-lettered at once
(no retry) with ``bad_header``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.smtp import SmtpServer
from tests.security.messaging import Project, email_settings, make_project, smtp_peer

RULES = """
rules:
  - id: notify
    on: customer.notify
    do:
      - email.send:
          to: "{{ data.to }}"
          cc: ["{{ data.cc }}"]
          bcc: ["{{ data.bcc }}"]
          reply_to: "{{ data.reply_to }}"
          subject: "{{ data.subject }}"
          body: "Olá"
        retry: {attempts: 3, backoff: fixed, delay: 1s}
"""

GOOD = {"to": "Maria Silva <maria@example.com>", "cc": "gerente@example.com", "bcc": "arquivo@example.com",
        "reply_to": "financeiro@example.com", "subject": "Sua visita"}

ATTACKS = {
    "a Bcc header after CRLF in to": {"to": "victim@example.com\r\nBcc: attacker@example.net"},
    "a second recipient after a comma in to": {"to": "victim@example.com, attacker@example.net"},
    "a second recipient after a space in to": {"to": "victim@example.com attacker@example.net"},
    "a group in to": {"to": "todos: victim@example.com, attacker@example.net;"},
    "CRLF in a display name": {"to": "Maria\r\nBcc: attacker@example.net <maria@example.com>"},
    "a bare LF in cc": {"cc": "gerente@example.com\nBcc: attacker@example.net"},
    "a second address in bcc": {"bcc": "arquivo@example.com, attacker@example.net"},
    "CRLF in reply_to": {"reply_to": "financeiro@example.com\r\nX-Injected: yes"},
    "CRLF in the subject": {"subject": "Sua visita\r\nBcc: attacker@example.net"},
    "a NUL in the subject": {"subject": "Sua visita\x00"},
    "a Unicode line separator in the subject": {"subject": "Sua visita\u2028Bcc: attacker@example.net"},
}


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SmtpServer]:
    with smtp_peer(tmp_path) as running:
        yield running


def project(tmp_path: Path, server: SmtpServer) -> Project:
    root = tmp_path / "project"
    return make_project(root, RULES, {"email": email_settings(server, root)})


@pytest.mark.parametrize("attack", sorted(ATTACKS))
def test_an_injected_header_or_recipient_sends_nothing_and_is_not_retried(
        attack: str, tmp_path: Path, server: SmtpServer) -> None:
    found = project(tmp_path, server)
    found.emit("customer.notify", **{**GOOD, **ATTACKS[attack]})
    assert server.mailbox.received == []
    letter = found.dead_letter()
    assert (letter.error_code, letter.attempts) == ("bad_header", 1), letter.error
    assert "\r" not in letter.error and "\n" not in letter.error  # the log line stays one line


def test_the_same_rule_with_clean_data_delivers_to_exactly_the_named_recipients(
        tmp_path: Path, server: SmtpServer) -> None:
    found = project(tmp_path, server)
    found.emit("customer.notify", **{**GOOD, "to": "José Conceição <jose@example.com>"})
    [received] = server.mailbox.received
    assert sorted(received.rcpt_tos) == ["arquivo@example.com", "gerente@example.com", "jose@example.com"]
    assert received.message["To"].addresses[0].display_name == "José Conceição"
    assert received.message["Bcc"] is None and received.message["X-Injected"] is None
