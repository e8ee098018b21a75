"""Phone numbers as Twilio wants them (E.164), where the company allows them to go, masked in errors.

A destination number usually comes from event data. A number in another
country, a premium-rate or shared-cost number, or a short code costs money
and reaches no customer (toll fraud pumps SMS to exactly those), so they
are refused unless ``Destinations`` allows them. Error messages, which end
up in logs and dead letters, show a number masked (``+55 11 9****-4321``).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass

import phonenumbers
from phonenumbers import PhoneNumberType

from errors import PermanentError
from personal_data import mask_phone

DEFAULT_REGION = "BR"
WHATSAPP_PREFIX = "whatsapp:"
# types that charge the sender more and are not a customer's phone
COSTLY_TYPES = {PhoneNumberType.PREMIUM_RATE: "premium-rate", PhoneNumberType.SHARED_COST: "shared-cost"}
# an international number as providers echo it (+5511987654321, +55 11 98765-4321)
_INTERNATIONAL = re.compile(r"\+\d[\d ().-]{6,}\d")


@dataclass(frozen=True)
class Destinations:
    """Where messages may go: ISO country codes, and whether costly or short numbers are allowed."""

    countries: Collection[str] = ("BR",)
    allow_premium: bool = False
    allow_short_codes: bool = False


def to_e164(number: str, region: str = DEFAULT_REGION, destinations: Destinations | None = None) -> str:
    """``(11) 98765-4321`` -> ``+5511987654321``; raises ``PermanentError`` naming the number, masked.

    This runs before any request: a number the provider would refuse
    (Twilio's 21211), or one the company does not send to, is a mistake in
    the data, and retrying cannot fix it. A short code, when allowed, is
    returned as its digits (Twilio's form for short codes).
    """
    allowed = destinations or Destinations()
    raw = str(number).removeprefix(WHATSAPP_PREFIX).strip()
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise PermanentError(f"{mask(number)} is not a phone number ({exc})", code="invalid_number") from exc
    if not phonenumbers.is_valid_number(parsed):
        if phonenumbers.is_valid_short_number(parsed):
            return _short_code(parsed, number, allowed)
        raise PermanentError(f"{mask(number)} is not a valid phone number (write it with its area code, "
                             f"e.g. (11) 98765-4321 or +55 11 98765-4321)", code="invalid_number")
    country = phonenumbers.region_code_for_number(parsed)
    if country not in allowed.countries:
        raise PermanentError(f"{mask(number)} is a number in {country or 'no country'}, not one of the "
                             f"allowed countries ({', '.join(allowed.countries)}); add it to "
                             f"allowed_countries to send there", code="country_not_allowed")
    costly = COSTLY_TYPES.get(phonenumbers.number_type(parsed))
    if costly and not allowed.allow_premium:
        raise PermanentError(f"{mask(number)} is a {costly} number; not sent (allow_premium_numbers: true "
                             f"allows it)", code="premium_number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def _short_code(parsed: phonenumbers.PhoneNumber, number: str, allowed: Destinations) -> str:
    if not allowed.allow_short_codes:
        raise PermanentError(f"{mask(number)} is a short code, not a customer's phone; not sent "
                             f"(allow_short_codes: true allows it)", code="short_code")
    country = phonenumbers.region_code_for_number(parsed) or ""
    if country not in allowed.countries:
        raise PermanentError(f"{mask(number)} is a short code in {country or 'no country'}, not one of "
                             f"the allowed countries ({', '.join(allowed.countries)})",
                             code="country_not_allowed")
    return phonenumbers.national_significant_number(parsed)


def whatsapp_address(number: str, region: str = DEFAULT_REGION,
                     destinations: Destinations | None = None) -> str:
    """``whatsapp:+E164``, the address form Twilio's WhatsApp channel uses."""
    return WHATSAPP_PREFIX + to_e164(number, region, destinations)


def mask(number: object) -> str:
    """A number as errors may show it (``+55 11 9****-4321``): ``personal_data.mask_phone``.

    Only digits survive, so a value carrying a line break or a secret
    cannot reach a log line through here either.
    """
    return mask_phone(number)


def mask_numbers_in(text: str) -> str:
    """``text`` with every international number masked (a provider's error message echoes them)."""
    return _INTERNATIONAL.sub(lambda match: mask(match.group(0)), text)
