"""Hostile amounts (a vendor's answer, a rendered param) never escape as ``decimal``'s own errors.

``Decimal("1e999")`` parses, but rounding it to the centavo raises ``InvalidOperation``;
``Decimal("1E+999999999999999999")`` overflows. A raw ``decimal`` exception is neither
transient nor permanent to the runner: every one must be ``PermanentError(code="bad_amount")``
naming the value (cut short when it is long).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from connectors.accounting.money import brl, wire
from errors import PermanentError

HOSTILE = ["1e999", "-1e999", "1E+999999999999999999", "-1E+999999999999999999", "NaN", "-NaN", "sNaN",
           "Infinity", "-Infinity", "inf", float("nan"), float("inf"), 1e308, 10 ** 40, "9" * 5000,
           "1e13", "", "dez reais", "1,50", None, True, [], {}]


@pytest.mark.parametrize("value", HOSTILE, ids=lambda v: repr(v)[:24])
def test_a_hostile_amount_is_a_permanent_bad_amount_naming_the_value(value: Any) -> None:
    with pytest.raises(PermanentError) as caught:
        brl(value)
    assert caught.value.code == "bad_amount"
    message = str(caught.value)
    assert str(value)[:20] in message
    assert len(message) < 120  # a megabyte of digits is not copied into logs and audits


def test_wire_refuses_what_brl_refuses() -> None:
    with pytest.raises(PermanentError):
        wire(Decimal("1e999"))


REAL = [("12.345", "12.35"), ("12.344", "12.34"), (10.1, "10.10"), ("1e-999999999", "0.00"),
        ("9999999999999.99", "9999999999999.99"), (-5, "-5.00")]


@pytest.mark.parametrize(("value", "expected"), REAL)
def test_real_amounts_still_round_half_up_to_the_centavo(value: Any, expected: str) -> None:
    assert brl(value) == Decimal(expected) and str(brl(value)) == expected
