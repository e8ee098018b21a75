"""The email's bytes, read back by the standard library's parser."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

from connectors.messaging.mime import Email, Envelope, addresses, message_id

SENDER = "Refrigeração Paulista <atendimento@refrigeracaopaulista.com.br>"


def read(email: Email) -> EmailMessage:
    raw = email.raw()
    assert b"\n" not in raw.replace(b"\r\n", b""), "every line ends with CRLF"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert not [part.defects for part in parsed.walk() if part.defects]
    return parsed


def email(to: tuple[str, ...] = ("maria@example.com",), subject: str = "Sua visita", text: str = "Olá",
          html: str | None = None, attachments: tuple[str, ...] = ()) -> Email:
    envelope = Envelope(SENDER, to)
    return Email(envelope, subject, text, html, message_id("rule:event:0", SENDER), attachments)


def test_a_name_with_a_comma_stays_one_recipient() -> None:
    to = addresses(['"Silva, Maria" <maria@example.com>', "joao@example.com"])
    assert Envelope(SENDER, to).recipients == ("maria@example.com", "joao@example.com")
    assert read(email(to))["To"].addresses[0].display_name == "Silva, Maria"


def test_many_recipients_are_folded_and_read_back_whole() -> None:
    to = addresses([f"Cliente Número {n} <cliente{n}@example.com>" for n in range(8)])
    header = read(email(to))["To"]
    assert [a.addr_spec for a in header.addresses] == [f"cliente{n}@example.com" for n in range(8)]
    assert header.addresses[3].display_name == "Cliente Número 3"


def test_a_subject_ending_in_a_newline_stays_one_header() -> None:
    long = "Atenção: sua visita de amanhã está confirmada para o período da manhã, entre 9h e 11h\n"
    parsed = read(email(subject=long))
    assert parsed["Subject"] == long.strip()
    assert parsed["X-Injected"] is None
    assert read(email(subject="Oi\nX-Injected: yes"))["X-Injected"] is None


def test_text_keeps_trailing_spaces_equals_signs_and_long_lines() -> None:
    text = "Total = R$ 10,00   \n.\n" + "x" * 300 + "\n"
    parsed = read(email(text=text, html="<p>Olá</p>"))
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Olá</p>"


def test_attachment_with_an_accented_name(tmp_path: Path) -> None:
    report = tmp_path / "relatório técnico.pdf"
    report.write_bytes(b"%PDF-1.4 " * 50)
    [attachment] = read(email(html="<p>Olá</p>", attachments=(str(report),))).iter_attachments()
    assert (attachment.get_filename(), attachment.get_content_type()) == (report.name, "application/pdf")
    assert attachment.get_content() == report.read_bytes()
