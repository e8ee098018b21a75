"""Correcting a person's data (LGPD art. 18 III), through the same checks as every other write.

Only the fields that hold personal data can be corrected here; each value goes through the
store's normalizers on flush (phone to E.164, email, CPF/CNPJ check digits), the column's
length, and the text checks the API applies (no control, bidi or zero-width characters).
The audit entry names the fields changed, not their values: the audit log must not become
a second copy of the personal data.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from store.audit import record_action
from store.errors import ValidationFailed
from store.models import Customer

CORRECTABLE = ("name", "email", "phone", "address", "city", "state", "postal_code", "tax_id")
_FORBIDDEN = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060\u2066-\u2069\ufeff]")


def correct_subject(session: Session, customer: Customer, changes: Mapping[str, str | None], *,
                    actor: str) -> list[str]:
    """Apply ``changes`` (a blank value clears an optional field); returns the fields that changed."""
    if not changes:
        raise ValidationFailed("set", "nothing to correct: give field=value pairs")
    changed: list[str] = []
    for name, raw in changes.items():
        if name not in CORRECTABLE:
            raise ValidationFailed(name, f"is not a correctable field (one of: {', '.join(CORRECTABLE)})")
        value = _checked(name, raw)
        if getattr(customer, name) != value:
            setattr(customer, name, value)
            changed.append(name)
    session.add(customer)
    session.flush()  # the normalizers run now: a bad phone fails naming customer.phone
    if changed:
        record_action(session, actor, "privacy.correct", entity_type="customer", entity_id=customer.id,
                      details={"fields": changed})
    return changed


def _checked(name: str, raw: str | None) -> Any:
    if raw is None or not raw.strip():
        return None
    value = raw.strip()
    column_type = Customer.__table__.c[name].type
    limit = getattr(column_type, "length", None) if isinstance(column_type, sa.String) else None
    if limit is not None and len(value) > limit and name not in ("phone", "tax_id"):
        raise ValidationFailed(f"customer.{name}", f"is longer than {limit} characters")
    bad = _FORBIDDEN.search(value)
    if bad:
        raise ValidationFailed(f"customer.{name}",
                               f"a control or invisible character (U+{ord(bad.group()):04X}) "
                                                   "is not allowed here")
    return value
