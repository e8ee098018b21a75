"""Finding the person a request is about: by customer id, phone, email or CPF/CNPJ.

What the admin types is read as data, never as part of a query: it is normalized by the
same functions that store phones, emails and tax ids, and compared with bound parameters.
Soft-deleted customers are found too: their data is still held, so their rights still apply.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from sqlmodel import Session, col, select

from store.errors import NotFound, ValidationFailed
from store.models import Customer
from store.tax_ids import normalize_tax_id
from store.validation import normalize_email, normalize_phone

FIELD = "person"
MAX_LENGTH = 254
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
_TAX_ID = re.compile(r"^[0-9A-Za-z.\-/ ]{11,18}$")
_PRINTABLE = re.compile(r"^[^\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]*$")


class AmbiguousSubject(ValidationFailed):
    """Several customers share the phone, email or tax id given: the admin must name one by id."""

    def __init__(self, value: str, ids: list[str]) -> None:
        super().__init__(FIELD, f"'{value}' matches {len(ids)} customers ({', '.join(ids)}); "
                                "give the customer id instead")
        self.ids = ids


def find_subject(session: Session, person: str) -> Customer:
    """The one customer ``person`` names; ``NotFound`` or ``ValidationFailed`` naming ``person``."""
    text = person.strip() if isinstance(person, str) else ""
    if not text:
        raise ValidationFailed(FIELD, "is required: a customer id, phone, email or CPF/CNPJ")
    if len(text) > MAX_LENGTH or not _PRINTABLE.match(text):
        raise ValidationFailed(FIELD, "is not a customer id, phone, email or CPF/CNPJ "
                                      f"(at most {MAX_LENGTH} printable characters)")
    if _UUID.match(text.lower()):
        customer = session.get(Customer, text.lower())
        if customer is None:
            raise NotFound("customer", text, field=FIELD)
        return customer
    column, value = _lookup(text)
    matches = session.exec(select(Customer).where(column == value).order_by(col(Customer.id))).all()
    if not matches:
        raise NotFound("customer", text, field=FIELD)
    if len(matches) > 1:
        raise AmbiguousSubject(text, [c.id for c in matches])
    return matches[0]


def _lookup(text: str) -> tuple[object, str]:
    if "@" in text:
        # the local part keeps its case when stored; people type it either way
        return sa.func.lower(col(Customer.email)), (normalize_email(FIELD, text) or "").lower()
    if _TAX_ID.match(text) and sum(ch.isdigit() for ch in text) >= 11:
        try:
            return col(Customer.tax_id), normalize_tax_id(FIELD, text) or ""
        except ValidationFailed:
            pass  # 11 digits with wrong check digits: read it as a phone number below
    try:
        return col(Customer.phone), normalize_phone(FIELD, text) or ""
    except ValidationFailed as exc:
        raise ValidationFailed(FIELD, f"'{text}' is not a customer id, an email, a valid CPF/CNPJ or a "
                                      "phone number") from exc
