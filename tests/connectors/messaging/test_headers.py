"""Header values: one address per item, no control character anywhere, refusals are bad_header."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from connectors.messaging.headers import (
    _SIMPLE,
    EmailAddress,
    _parse,
    _parse_strictly,
    check_text,
    header_address,
    parse_address,
    parse_addresses,
)
from errors import PermanentError


@pytest.mark.parametrize(("written", "name", "addr"), [
    ("maria@example.com", "", "maria@example.com"),
    ("Maria Silva <maria@example.com>", "Maria Silva", "maria@example.com"),
    ('"Silva, Maria" <maria@example.com>', "Silva, Maria", "maria@example.com"),
    ("José Conceição <jose@example.com.br>", "José Conceição", "jose@example.com.br"),
    ("  maria@example.com  ", "", "maria@example.com"),
    ("joão@example.com.br", "", "joão@example.com.br"),  # SMTPUTF8 carries it
    ("Dr. Silva <dr@example.com>", "Dr. Silva", "dr@example.com"),  # obsolete syntax, written anew
])
def test_one_address_is_parsed_into_its_name_and_address(written: str, name: str, addr: str) -> None:
    assert parse_address(written, "to") == EmailAddress(name, addr)


@pytest.mark.parametrize("written", [
    "victim@example.com\r\nBcc: attacker@example.net",
    "victim@example.com\nBcc: attacker@example.net",
    "Maria\r\n <maria@example.com>",
    "maria@example.com\x00",
    "maria@example.com\u2028",
    "maria@example.com\x85",
    "maria@example.com\t",
])
def test_a_control_character_anywhere_is_refused(written: str) -> None:
    with pytest.raises(PermanentError, match=r"^to: .* contains the control character U\+") as raised:
        parse_address(written, "to")
    assert raised.value.code == "bad_header"
    assert "\n" not in str(raised.value) and "\r" not in str(raised.value)


@pytest.mark.parametrize(("written", "why"), [
    ("a@example.com, b@example.net", "is 2 addresses, not one"),
    ("todos: a@example.com, b@example.net;", "is 2 addresses, not one"),
    ("todos: a@example.com;", "is not an address"),
    ("a@example.com b@example.net", "is not a valid address"),
    ("alice@example.org)<bob@example.org>", "is not a valid address"),
    ("maria", "is not a valid address"),
    ("a@b@c", "is not a valid address"),
    ("<>", "is not a valid address"),
    ("undisclosed:;", "is not an address"),
])
def test_anything_but_exactly_one_clean_address_is_refused(written: str, why: str) -> None:
    with pytest.raises(PermanentError, match=why) as raised:
        parse_address(written, "cc")
    assert raised.value.code == "bad_header"


def test_a_list_is_one_address_per_item_and_names_the_bad_item() -> None:
    assert [a.addr_spec for a in parse_addresses(["a@example.com", "b@example.com"], "to")] == \
        ["a@example.com", "b@example.com"]
    with pytest.raises(PermanentError, match=r"^bcc\[1\]: 'b@example.com, c@evil.example' is 2 addresses"):
        parse_addresses(["a@example.com", "b@example.com, c@evil.example"], "bcc")


def test_empty_items_and_none_are_no_addresses() -> None:
    assert parse_addresses(None, "cc") == ()
    assert parse_addresses(["", "  "], "cc") == ()


def test_a_non_ascii_display_name_is_written_as_an_encoded_word() -> None:
    written = header_address(EmailAddress("José Conceição", "jose@example.com"))
    assert written.isascii() and written.startswith("=?utf-8?") and written.endswith(" <jose@example.com>")


def test_a_display_name_with_specials_is_quoted() -> None:
    assert header_address(EmailAddress("Silva, Maria", "m@example.com")) == '"Silva, Maria" <m@example.com>'


def test_plain_text_passes_and_a_line_break_does_not() -> None:
    assert check_text("Sua visita de amanhã", "subject") == "Sua visita de amanhã"
    with pytest.raises(PermanentError, match="U\\+000D"):
        check_text("Oi\r\nBcc: x", "subject")


@settings(max_examples=100, deadline=None)
@given(st.from_regex(_SIMPLE, fullmatch=True))
def test_the_fast_reading_of_common_shapes_agrees_with_the_header_parser(value: str) -> None:
    assume(all(unicodedata.category(char) not in ("Cc", "Zl", "Zp") for char in value))
    assert _parse(value, "to") == _parse_strictly(value, "to")


@pytest.mark.parametrize("written", ["maria@example.com", "Maria Silva <maria@example.com>",
                                     '"Silva, Maria" <maria@example.com>', 'Dr. "Zé" <ze@example.com>'])
def test_an_address_written_as_text_reads_back_as_the_same_address(written: str) -> None:
    address = parse_address(written, "to")
    assert parse_address(str(address), "to") == address
