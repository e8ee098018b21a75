"""The email's bytes, read back by the standard library's parser."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from connectors.messaging.attachments import Attachment
from connectors.messaging.headers import EmailAddress, parse_address, parse_addresses
from connectors.messaging.mime import Email, Envelope, message_id
from errors import PermanentError

SENDER = parse_address("Refrigeração Paulista <atendimento@refrigeracaopaulista.com.br>", "from")


def read(email: Email) -> EmailMessage:
    raw = email.raw()
    assert b"\n" not in raw.replace(b"\r\n", b""), "every line ends with CRLF"
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    parsed = message_from_bytes(raw, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    assert not [part.defects for part in parsed.walk() if part.defects]
    return parsed


MARIA = EmailAddress("", "maria@example.com")


def email(to: tuple[EmailAddress, ...] = (MARIA,), subject: str = "Sua visita", text: str = "Olá",
          html: str | None = None, attachments: tuple[Attachment, ...] = ()) -> Email:
    envelope = Envelope(SENDER, to)
    return Email(envelope, subject, text, html, message_id("rule:event:0", SENDER), attachments)


def test_a_name_with_a_comma_stays_one_recipient() -> None:
    to = parse_addresses(['"Silva, Maria" <maria@example.com>', "joao@example.com"], "to")
    assert Envelope(SENDER, to).recipients == ("maria@example.com", "joao@example.com")
    assert read(email(to))["To"].addresses[0].display_name == "Silva, Maria"


def test_many_recipients_are_folded_and_read_back_whole() -> None:
    to = parse_addresses([f"Cliente Número {n} <cliente{n}@example.com>" for n in range(8)], "to")
    header = read(email(to))["To"]
    assert [a.addr_spec for a in header.addresses] == [f"cliente{n}@example.com" for n in range(8)]
    assert header.addresses[3].display_name == "Cliente Número 3"


def test_a_long_accented_subject_is_folded_and_read_back_whole() -> None:
    long = "Atenção: sua visita de amanhã está confirmada para o período da manhã, entre 9h e 11h"
    assert read(email(subject=long))["Subject"] == long


@pytest.mark.parametrize("subject", ["Oi\nX-Injected: yes", "Oi\r\nBcc: a@evil.example", "Oi\u2028X: y"])
def test_a_subject_with_a_line_break_is_refused_as_bad_header(subject: str) -> None:
    with pytest.raises(PermanentError, match="subject") as raised:
        email(subject=subject).raw()
    assert raised.value.code == "bad_header"


def test_an_attachment_file_name_with_a_line_break_is_refused() -> None:
    hostile = Attachment("x", "a.pdf\r\nX-Injected: yes", b"data")
    with pytest.raises(PermanentError) as raised:
        email(attachments=(hostile,)).raw()
    assert raised.value.code == "bad_header"


def test_text_keeps_trailing_spaces_equals_signs_and_long_lines() -> None:
    text = "Total = R$ 10,00   \n.\n" + "x" * 300 + "\n"
    parsed = read(email(text=text, html="<p>Olá</p>"))
    assert parsed.get_body(("plain",)).get_content().replace("\r\n", "\n") == text
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Olá</p>"


def test_attachment_with_an_accented_name() -> None:
    report = Attachment("relatório técnico.pdf", "relatório técnico.pdf", b"%PDF-1.4 " * 50)
    [attachment] = read(email(html="<p>Olá</p>", attachments=(report,))).iter_attachments()
    assert (attachment.get_filename(), attachment.get_content_type()) == (report.filename, "application/pdf")
    assert attachment.get_content() == report.data


def test_a_non_ascii_display_name_is_an_encoded_word_in_the_raw_header() -> None:
    raw = email(to=(parse_address("José Conceição <jose@example.com>", "to"),)).raw()
    to_line = next(line for line in raw.split(b"\r\n") if line.startswith(b"To:"))
    assert b"=?utf-8?" in to_line and to_line.isascii()
    assert read(email(to=(parse_address("José Conceição <jose@example.com>", "to"),)))["To"].addresses[0] \
        .display_name == "José Conceição"
