"""Phone numbers normalised to E.164 before anything is sent."""

from __future__ import annotations

import pytest

from connectors.messaging.phones import to_e164, whatsapp_address
from errors import PermanentError


@pytest.mark.parametrize("written", ["(11) 98765-4321", "11987654321", "+55 11 98765-4321",
                                     "whatsapp:+5511987654321", " 011 98765 4321 "])
def test_brazilian_numbers_become_e164(written: str) -> None:
    assert to_e164(written) == "+5511987654321"


def test_foreign_numbers_keep_their_country() -> None:
    assert to_e164("+1 415 523 8886") == "+14155238886"


def test_default_region_can_change() -> None:
    assert to_e164("(415) 523-8886", "US") == "+14155238886"


@pytest.mark.parametrize("written", ["12345", "", "telefone", "+55 11 1234"])
def test_invalid_number_is_permanent_and_named(written: str) -> None:
    with pytest.raises(PermanentError) as raised:
        to_e164(written)
    assert raised.value.code == "invalid_number"
    assert f"'{written}'" in str(raised.value)


def test_whatsapp_address_has_the_prefix() -> None:
    assert whatsapp_address("(11) 98765-4321") == "whatsapp:+5511987654321"
