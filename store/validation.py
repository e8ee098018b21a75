"""Normalizers for the values people type: phones, emails, amounts, choices.

Each takes the field name so the error says which value was refused, and
returns the canonical form that is stored (E.164 phone, lower-case domain,
Decimal with two places).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from store.errors import ValidationFailed

DEFAULT_PHONE_REGION = "BR"
MAX_AMOUNT = Decimal("9999999999.99")  # what NUMERIC(12, 2) holds


def normalize_phone(field: str, value: str | None, region: str = DEFAULT_PHONE_REGION) -> str | None:
    """A phone number in E.164 (``+5511987654321``); national numbers are read as Brazilian."""
    if value is None or str(value).strip() == "":
        return None
    try:
        number = phonenumbers.parse(str(value), region)
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(field, f"'{value}' is not a phone number ({exc})") from exc
    if not phonenumbers.is_valid_number(number):
        raise ValidationFailed(
            field, f"'{value}' is not a valid phone number (write it with area code, e.g. +55 11 98765-4321)"
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(field: str, value: str | None) -> str | None:
    """A syntactically valid address; no DNS look-up (seeding and tests run offline)."""
    if value is None or str(value).strip() == "":
        return None
    try:
        return validate_email(str(value).strip(), check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationFailed(field, f"'{value}' is not a valid email address ({exc})") from exc


def normalize_amount(field: str, value: Any) -> Decimal | None:
    """Money: zero or more, at most two decimal places; floats go through ``str`` to stay exact."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ValidationFailed(field, f"{value!r} is not an amount")
    try:
        amount = Decimal(str(value).strip()) if isinstance(value, (str, float)) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise ValidationFailed(field, f"'{value}' is not an amount") from exc
    if not amount.is_finite():
        raise ValidationFailed(field, f"'{value}' is not an amount")
    if amount < 0:
        raise ValidationFailed(field, f"{amount} is negative; amounts are zero or more")
    exponent = amount.as_tuple().exponent  # an int: the amount is finite
    if isinstance(exponent, int) and exponent < -2 and amount != amount.quantize(Decimal("0.01")):
        raise ValidationFailed(field, f"{amount} has more than two decimal places")
    if amount > MAX_AMOUNT:
        raise ValidationFailed(field, f"{amount} is larger than {MAX_AMOUNT}")
    return amount.quantize(Decimal("0.01"))


def check_choice(field: str, value: Any, choices: Iterable[str]) -> Any:
    allowed = tuple(choices)
    if value is not None and value not in allowed:
        raise ValidationFailed(field, f"'{value}' is not one of: {', '.join(allowed)}")
    return value


def check_choices(field: str, values: Any, choices: Iterable[str]) -> list[str]:
    """A list whose every item is one of ``choices`` (opt-outs, skills vocabularies)."""
    if values is None:
        return []
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValidationFailed(field, f"expected a list, got {values!r}")
    allowed = tuple(choices)
    items = list(values)
    for item in items:
        check_choice(field, item, allowed)
    return items


def check_string_list(field: str, values: Any) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str) or not isinstance(values, Iterable):
        raise ValidationFailed(field, f"expected a list of strings, got {values!r}")
    items = [str(v).strip() for v in values]
    if any(not item for item in items):
        raise ValidationFailed(field, "items must not be empty")
    return items


def check_aware(field: str, value: datetime | None) -> datetime | None:
    if value is not None and (not isinstance(value, datetime) or value.tzinfo is None):
        raise ValidationFailed(field, f"{value!r} needs a time zone (timestamps are stored in UTC)")
    return value


def check_required(field: str, value: Any) -> Any:
    if value is None or (isinstance(value, str) and not value.strip()):
        raise ValidationFailed(field, "is required")
    return value
