"""Removing one person's identifiers from free text and JSON: message bodies, payloads, traces, logs.

Structured places are cleared by name (a customer record inside an event payload, the sender
of an inbound WhatsApp message); what is left — a phone number inside a step's rendered
params, a name in an error message — is found by value and replaced with ``[anonimizado]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import phonenumbers

PLACEHOLDER = "[anonimizado]"
ANONYMOUS_NAME = "Titular anonimizado"
# The personal fields of the records event payloads carry (store.event_payloads): CustomerRecord,
# InboundCustomer, the order's address and free text, and the inbound message itself.
CUSTOMER_FIELDS = {"name": ANONYMOUS_NAME, "email": None, "phone": None, "address": None, "city": None,
                   "state": None, "postal_code": None, "tax_id": None}
ORDER_FIELDS = {"address": None, "description": ""}
INBOUND_FIELDS = {"from": "", "body": "", "text": "", "profile_name": None}
MIN_NEEDLE = 4  # shorter values (a state "SP") would blot out unrelated text
MIN_STREET = 8


class Scrubber:
    """Replaces every occurrence of the person's identifiers, case-insensitively."""

    def __init__(self, identifiers: Iterable[str | None]) -> None:
        needles = sorted({i.strip() for i in identifiers if i and len(i.strip()) >= MIN_NEEDLE},
                         key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(n) for n in needles),
                                   re.IGNORECASE) if needles else None

    def text(self, value: str) -> str:
        return self._pattern.sub(PLACEHOLDER, value) if self._pattern else value

    def walk(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {key: self.walk(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.walk(item) for item in value]
        return value


def identifiers(*, name: str | None, email: str | None, phone: str | None, addresses: Iterable[str | None],
                tax_id: str | None) -> list[str]:
    """The strings that identify the person, in the forms text is likely to hold them."""
    found = [name, email]
    for address in addresses:
        if address:
            # "Rua das Flores, 123 - Centro": a calendar's location often has the street part only
            street = address.split(" - ")[0].strip()
            found += [address, street if len(street) >= MIN_STREET else None]
    if phone:
        found.append(phone)
        try:
            number = phonenumbers.parse(phone, None)
            national = str(number.national_number)
            found += [national, phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL),
                      phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL),
                      f"{national[-9:-4]}-{national[-4:]}" if len(national) >= 9 else None]
        except phonenumbers.NumberParseException:
            pass  # stored phones are E.164; an odd one is still matched as stored
    if tax_id:
        found.append(tax_id)
        if len(tax_id) == 11:
            found.append(f"{tax_id[:3]}.{tax_id[3:6]}.{tax_id[6:9]}-{tax_id[9:]}")
        elif len(tax_id) == 14:
            found.append(f"{tax_id[:2]}.{tax_id[2:5]}.{tax_id[5:8]}/{tax_id[8:12]}-{tax_id[12:]}")
    return [f for f in found if f]


def anonymise_payload(payload: dict[str, Any], customer_id: str, phone: str | None,
                      scrubber: Scrubber) -> dict[str, Any]:
    """An event payload without the person's data: known fields cleared, the rest scrubbed."""
    result = dict(payload)
    customer = result.get("customer")
    if isinstance(customer, dict) and customer.get("id") == customer_id:
        result["customer"] = {**customer, **{k: v for k, v in CUSTOMER_FIELDS.items() if k in customer}}
    order = result.get("order")
    if isinstance(order, dict) and order.get("customer_id") == customer_id:
        result["order"] = {**order, **{k: v for k, v in ORDER_FIELDS.items() if k in order}}
    sender = result.get("from")
    if isinstance(sender, str) and ((phone and sender == phone) or (isinstance(customer, dict)
                                    and customer.get("id") == customer_id)):
        result.update({k: v for k, v in INBOUND_FIELDS.items() if k in result})
    walked: dict[str, Any] = scrubber.walk(result)
    return walked
