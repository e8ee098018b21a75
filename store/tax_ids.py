"""CPF and CNPJ: the tax ids Brazilian payment providers and ERPs require of a customer.

Stored without punctuation, upper case: 11 digits (CPF) or 14 characters (CNPJ, digits or,
from July 2026, letters in the first twelve). Check digits verified with ``brutils``.
"""

from __future__ import annotations

import re
from typing import Any

from store.errors import ValidationFailed

_PUNCTUATION = re.compile(r"[.\-/\s]")
_SHAPE = re.compile(r"^(\d{11}|[0-9A-Z]{12}\d{2})$")


def normalize_tax_id(field: str, value: Any) -> str | None:
    """``'123.456.789-09'`` -> ``'12345678909'``; a wrong check digit is an error naming the field."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str) or len(value) > 30:
        raise ValidationFailed(field, "a CPF or CNPJ is text of at most 18 characters")
    compact = _PUNCTUATION.sub("", value).upper()
    if not _SHAPE.match(compact):
        raise ValidationFailed(field, f"'{value}' is not a CPF (11 digits) or a CNPJ (14 characters)")
    if not is_valid_tax_id(compact):
        kind = "CPF" if len(compact) == 11 else "CNPJ"
        raise ValidationFailed(field, f"'{value}' is not a valid {kind}: its check digits do not match")
    return compact


def is_valid_tax_id(compact: str) -> bool:
    import brutils

    if len(compact) == 11:
        return bool(brutils.is_valid_cpf(compact))
    return bool(brutils.is_valid_cnpj(compact))


def tax_id_kind(compact: str) -> str:
    return "cpf" if len(compact) == 11 else "cnpj"
