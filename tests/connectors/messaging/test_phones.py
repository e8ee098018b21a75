"""Phone numbers normalised to E.164, limited to the allowed destinations, masked in errors."""

from __future__ import annotations

import pytest

from connectors.messaging.phones import Destinations, mask, mask_numbers_in, to_e164, whatsapp_address
from errors import PermanentError

BR_AND_US = Destinations(countries=("BR", "US"))


@pytest.mark.parametrize("written", ["(11) 98765-4321", "11987654321", "+55 11 98765-4321",
                                     "whatsapp:+5511987654321", " 011 98765 4321 "])
def test_brazilian_numbers_become_e164(written: str) -> None:
    assert to_e164(written) == "+5511987654321"


def test_foreign_numbers_keep_their_country_when_the_country_is_allowed() -> None:
    assert to_e164("+1 415 523 8886", destinations=BR_AND_US) == "+14155238886"


def test_default_region_can_change() -> None:
    assert to_e164("(415) 523-8886", "US", BR_AND_US) == "+14155238886"


@pytest.mark.parametrize(("written", "shown"), [("12345", "***45"), ("", "(no digits)"),
                                                ("telefone", "(no digits)"), ("+55 11 1234", "+55 **1234")])
def test_invalid_number_is_permanent_and_named_masked(written: str, shown: str) -> None:
    with pytest.raises(PermanentError) as raised:
        to_e164(written)
    assert raised.value.code == "invalid_number"
    assert str(raised.value).startswith(f"{shown} is not")


def test_a_number_in_a_country_not_allowed_is_refused_by_default() -> None:
    with pytest.raises(PermanentError, match=r"\+1 \*{6}8886 is a number in US, not one of the allowed "
                                             r"countries \(BR\)") as raised:
        to_e164("+1 415 523 8886")
    assert raised.value.code == "country_not_allowed"


COSTLY = [("0900 123 4567", "premium-rate"), ("4003-1234", "shared-cost"),
          ("+1 900 555 0123", "premium-rate")]


@pytest.mark.parametrize(("written", "kind"), COSTLY)
def test_premium_rate_and_shared_cost_numbers_are_refused_unless_allowed(written: str, kind: str) -> None:
    with pytest.raises(PermanentError, match=f"is a {kind} number") as raised:
        to_e164(written, destinations=BR_AND_US)
    assert raised.value.code == "premium_number"
    assert to_e164(written, destinations=Destinations(("BR", "US"), allow_premium=True)).startswith("+")


def test_a_short_code_is_refused_unless_allowed() -> None:
    with pytest.raises(PermanentError, match="is a short code") as raised:
        to_e164("40404")
    assert raised.value.code == "short_code"
    assert to_e164("40404", destinations=Destinations(allow_short_codes=True)) == "40404"


def test_whatsapp_address_has_the_prefix() -> None:
    assert whatsapp_address("(11) 98765-4321") == "whatsapp:+5511987654321"


@pytest.mark.parametrize(("number", "shown"), [
    ("+5511987654321", "+55 11 9****-4321"),
    ("whatsapp:+5511987654321", "+55 11 9****-4321"),
    ("(11) 98765-4321", "11 9****-4321"),
    ("+55 11 98765-4321\r\nBcc: x@example.com", "+55 11 9****-4321"),  # only digits survive
    ("7", "*"),
])
def test_mask_keeps_the_country_code_and_the_last_two_digits(number: str, shown: str) -> None:
    assert mask(number) == shown


def test_numbers_in_a_providers_message_are_masked() -> None:
    text = "The 'To' number +5511987654321 is not a valid phone number (see /2010-04-01/Accounts)"
    assert mask_numbers_in(text) == "The 'To' number +55 11 9****-4321 is not a valid phone number " \
                                    "(see /2010-04-01/Accounts)"
