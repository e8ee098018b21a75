"""Phone numbers as Twilio wants them: E.164, national numbers read in a default region."""

from __future__ import annotations

import phonenumbers

from errors import PermanentError

DEFAULT_REGION = "BR"
WHATSAPP_PREFIX = "whatsapp:"


def to_e164(number: str, region: str = DEFAULT_REGION) -> str:
    """``(11) 98765-4321`` -> ``+5511987654321``; raises ``PermanentError`` naming the number.

    This runs before any request: a number the provider would refuse
    (Twilio's 21211) is a mistake in the data, and retrying cannot fix it.
    """
    raw = str(number).removeprefix(WHATSAPP_PREFIX).strip()
    try:
        parsed = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException as exc:
        raise PermanentError(f"'{number}' is not a phone number ({exc})", code="invalid_number") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise PermanentError(f"'{number}' is not a valid phone number (write it with its area code, "
                             f"e.g. (11) 98765-4321 or +55 11 98765-4321)", code="invalid_number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def whatsapp_address(number: str, region: str = DEFAULT_REGION) -> str:
    """``whatsapp:+E164``, the address form Twilio's WhatsApp channel uses."""
    return WHATSAPP_PREFIX + to_e164(number, region)
