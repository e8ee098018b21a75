"""Money as ``Decimal`` in BRL, end to end: never a float between our records and a vendor's wire."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from errors import PermanentError

CENT = Decimal("0.01")


def brl(value: Any) -> Decimal:
    """An amount in reais, rounded half-up to the centavo (how the vendors round).

    A float from a vendor's JSON goes through ``str`` so 10.1 stays 10.10, not
    10.0999999999999996447286321199499070644378662109375.
    """
    if isinstance(value, bool):
        raise PermanentError(f"{value!r} is not an amount", code="bad_amount")
    try:
        amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise PermanentError(f"'{value}' is not an amount", code="bad_amount") from exc
    if not amount.is_finite():
        raise PermanentError(f"'{value}' is not an amount", code="bad_amount")
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def wire(amount: Decimal) -> float:
    """The number a JSON API wants: exact for two decimal places (``brl`` first)."""
    return float(brl(amount))


def as_text(amount: Decimal) -> str:
    """``'1234.50'``: how amounts appear in outputs, audits and exports."""
    return str(brl(amount))
