from decimal import Decimal

import pytest

from store.errors import ValidationFailed
from store.validation import check_choice, normalize_amount, normalize_email, normalize_phone


@pytest.mark.parametrize("raw", ["(11) 98765-4321", "11 98765 4321", "+55 11 98765-4321",
                                 "5511987654321"[2:], "+5511987654321"])
def test_brazilian_phones_become_e164(raw: str) -> None:
    assert normalize_phone("customer.phone", raw) == "+5511987654321"


def test_foreign_phone_with_country_code_is_kept() -> None:
    assert normalize_phone("customer.phone", "+1 650-253-0000") == "+16502530000"


@pytest.mark.parametrize("raw", ["123", "abc", "+55 11 1234", "(00) 0000-0000"])
def test_invalid_phone_is_refused_naming_the_field(raw: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        normalize_phone("customer.phone", raw)
    assert caught.value.field == "customer.phone"
    assert raw in str(caught.value)


def test_empty_phone_means_none() -> None:
    assert normalize_phone("customer.phone", "  ") is None


def test_email_domain_is_lowercased() -> None:
    assert normalize_email("customer.email", " Ana@Example.COM ") == "Ana@example.com"


@pytest.mark.parametrize("raw", ["ana", "ana@", "@example.com", "ana@@example.com", "ana@exa mple.com"])
def test_invalid_email_is_refused_naming_the_field(raw: str) -> None:
    with pytest.raises(ValidationFailed, match=r"^customer\.email: ") as caught:
        normalize_email("customer.email", raw)
    assert caught.value.field == "customer.email"


@pytest.mark.parametrize(("raw", "expected"), [("10", "10.00"), (10.5, "10.50"), ("0.1", "0.10"),
                                               (Decimal("99.990"), "99.99"), (0, "0.00")])
def test_amounts_are_decimals_with_two_places(raw: object, expected: str) -> None:
    assert normalize_amount("invoice.amount", raw) == Decimal(expected)


@pytest.mark.parametrize(("raw", "why"), [("-1", "negative"), ("10.005", "two decimal places"),
                                          ("dez", "not an amount"), ("NaN", "not an amount"),
                                          (True, "not an amount"), ("1e12", "larger than")])
def test_bad_amounts_are_refused_saying_why(raw: object, why: str) -> None:
    with pytest.raises(ValidationFailed, match=why) as caught:
        normalize_amount("invoice.amount", raw)
    assert caught.value.field == "invoice.amount"


def test_unknown_choice_lists_the_allowed_values() -> None:
    with pytest.raises(ValidationFailed, match="standard, premium"):
        check_choice("customer.tier", "gold", ("standard", "premium"))
