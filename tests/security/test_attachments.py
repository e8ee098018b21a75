"""Attachment paths taken from event data, replayed: nothing outside the allowed folders is mailed.

``attachments: ["{{ data.path }}"]`` once mailed the JWT signing key and
``/proc/self/environ`` (with the SMTP and Twilio secrets in it). Each attack
below runs a rule against an event, through the engine and the email
connector, to a real SMTP server: the server receives nothing, and the step
is dead-lettered with ``attachment_refused`` naming the attachment.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.smtp import SmtpServer
from tests.security.messaging import SECRET, Project, email_settings, make_project, smtp_peer

MAIL_THE_FILE = """
rules:
  - id: mail-report
    on: report.ready
    do:
      - email.send:
          to: "{{ data.email }}"
          subject: "Seu relatório"
          body: "Segue o relatório."
          attachments: ["{{ data.path }}"]
"""

BACKUP_THEN_MAIL = """
rules:
  - id: mail-backup
    on: ops.backup_due
    do:
      - id: backup
        backup.run: {}
      - email.send:
          to: operacoes@example.com
          subject: "Backup"
          body: "Segue o backup."
          attachments: ["{{ steps.backup.path }}"]
"""


@pytest.fixture
def server(tmp_path: Path) -> Iterator[SmtpServer]:
    with smtp_peer(tmp_path) as running:
        yield running


def project(tmp_path: Path, server: SmtpServer, rules: str = MAIL_THE_FILE) -> Project:
    root = tmp_path / "project"
    return make_project(root, rules, {"email": email_settings(server, root)})


def attack(tmp_path: Path, server: SmtpServer, path: str | None = None) -> Project:
    """Mail ``path`` (default: the JWT key file) to the attacker; returns the project to inspect."""
    found = project(tmp_path, server)
    found.emit("report.ready", email="attacker@example.net",
               path=path if path is not None else str(found.var / "api" / "jwt.keys"))
    return found


def assert_refused(found: Project, server: SmtpServer, path: str) -> None:
    assert server.mailbox.received == []
    letter = found.dead_letter()
    assert letter.error_code == "attachment_refused", letter.error
    assert repr(path) in letter.error  # names the attachment


def test_the_jwt_signing_key_named_by_absolute_path_is_not_mailed(tmp_path: Path, server: SmtpServer) -> None:
    found = attack(tmp_path, server)
    assert_refused(found, server, str(found.var / "api" / "jwt.keys"))


def test_proc_self_environ_is_not_mailed(tmp_path: Path, server: SmtpServer) -> None:
    found = attack(tmp_path, server, "/proc/self/environ")
    assert_refused(found, server, "/proc/self/environ")


def test_a_relative_path_climbing_out_of_the_attachments_folder_is_not_mailed(
        tmp_path: Path, server: SmtpServer) -> None:
    found = attack(tmp_path, server, "../api/jwt.keys")
    assert_refused(found, server, "../api/jwt.keys")


def test_a_symlink_in_the_attachments_folder_pointing_out_is_not_followed(
        tmp_path: Path, server: SmtpServer) -> None:
    found = project(tmp_path, server)
    os.symlink(found.var / "api" / "jwt.keys", found.var / "attachments" / "relatorio.pdf")
    found.emit("report.ready", email="attacker@example.net", path="relatorio.pdf")
    assert_refused(found, server, "relatorio.pdf")
    assert SECRET not in found.dead_letter().error


def test_a_file_in_the_outbox_named_by_the_event_is_not_mailed(tmp_path: Path, server: SmtpServer) -> None:
    """The outbox holds what despacho wrote; only a step's own output may name a file there."""
    found = project(tmp_path, server)
    other = found.var / "outbox" / "backup" / "someone-elses.json"
    other.parent.mkdir(parents=True)
    other.write_text('{"secret": 1}', encoding="utf-8")
    found.emit("report.ready", email="attacker@example.net", path=str(other))
    assert_refused(found, server, str(other))


def test_a_file_in_the_attachments_folder_named_by_the_event_is_mailed(
        tmp_path: Path, server: SmtpServer) -> None:
    found = project(tmp_path, server)
    (found.var / "attachments" / "os-123.pdf").write_bytes(b"%PDF-1.4 os 123")
    found.emit("report.ready", email="maria@example.com", path="os-123.pdf")
    [received] = server.mailbox.received
    [attachment] = received.message.iter_attachments()
    assert (attachment.get_filename(), attachment.get_content()) == ("os-123.pdf", b"%PDF-1.4 os 123")
    assert found.dead_letters() == []


def test_a_file_an_earlier_step_produced_in_the_outbox_is_mailed(tmp_path: Path, server: SmtpServer) -> None:
    found = project(tmp_path, server, BACKUP_THEN_MAIL)
    found.emit("ops.backup_due")
    [received] = server.mailbox.received
    [attachment] = received.message.iter_attachments()
    assert b'"action": "backup.run"' in attachment.get_content()
    assert found.dead_letters() == []
