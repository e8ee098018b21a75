"""Money as ``Decimal`` in BRL, end to end: never a float between our records and a vendor's wire."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, DecimalException
from typing import Any

from errors import PermanentError

CENT = Decimal("0.01")


# no bill is this large; beyond it a vendor's answer or a param is garbage, not money
MAX_AMOUNT = Decimal("1e13")
_SHOWN = 40  # characters of a refused value quoted in the error (a hostile one may be megabytes)


def brl(value: Any) -> Decimal:
    """An amount in reais, rounded half-up to the centavo (how the vendors round).

    A float from a vendor's JSON goes through ``str`` so 10.1 stays 10.10, not
    10.0999999999999996447286321199499070644378662109375. Anything that is not a
    finite amount below ``MAX_AMOUNT`` reais (``NaN``, ``Infinity``, ``1e999``) raises
    ``PermanentError(code="bad_amount")`` naming the value, never ``decimal``'s own errors.
    """
    if isinstance(value, bool):
        raise _bad(value)
    try:
        amount = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    except (DecimalException, TypeError, ValueError) as exc:
        raise _bad(value) from exc
    if not amount.is_finite() or amount.copy_abs() >= MAX_AMOUNT:  # copy_abs: no context, no Overflow
        raise _bad(value)
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def _bad(value: Any) -> PermanentError:
    text = str(value)
    shown = text if len(text) <= _SHOWN else f"{text[:_SHOWN]}... ({len(text)} characters)"
    return PermanentError(f"{shown!r} is not an amount", code="bad_amount")


def wire(amount: Decimal) -> float:
    """The number a JSON API wants: exact for two decimal places (``brl`` first)."""
    return float(brl(amount))


def as_text(amount: Decimal) -> str:
    """``'1234.50'``: how amounts appear in outputs, audits and exports."""
    return str(brl(amount))
