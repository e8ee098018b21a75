"""Hostile answers from an accounting system, and hostile params, stay bounded or are refused."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from pydantic import ValidationError

from connectors.accounting.connector import RefundPaymentParams, SyncInvoiceParams
from store.accounting_sync import MAX_ITEMS, MAX_TEXT, jsonable


def test_a_vendor_answering_megabytes_leaves_a_bounded_audit_row() -> None:
    huge = {"data": [{"id": i, "note": "x" * 100_000} for i in range(10_000)], "nested": {}}
    level = huge["nested"]
    for _ in range(50):  # deeper than any real answer
        level["deeper"] = {}
        level = level["deeper"]
    kept = jsonable(huge)
    text = json.dumps(kept)
    assert len(text) < 100_000
    assert len(kept["data"]) == MAX_ITEMS + 1  # the items kept and a note of how many were left out
    assert kept["data"][0]["note"].startswith("x" * MAX_TEXT) and "100000 chars" in kept["data"][0]["note"]


def test_money_in_an_audit_row_is_text_to_the_centavo_never_a_float() -> None:
    assert jsonable({"amount": Decimal("10.1")}) == {"amount": "10.10"}


def test_an_overlong_id_or_system_in_a_rule_is_refused_before_anything_runs() -> None:
    with pytest.raises(ValidationError):
        SyncInvoiceParams(invoice_id="x" * 37)
    with pytest.raises(ValidationError):
        SyncInvoiceParams(invoice_id="inv", system="s" * 51)


def test_a_negative_or_sub_centavo_refund_is_refused() -> None:
    with pytest.raises(ValidationError):
        RefundPaymentParams(payment_id="p", amount=Decimal("-1"))
    with pytest.raises(ValidationError):
        RefundPaymentParams(payment_id="p", amount=Decimal("0.001"))
