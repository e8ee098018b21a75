"""Personal data as records may show it: phones, emails, CPF and CNPJ masked.

LGPD asks that what a company keeps about people be no more than it needs:
a log line, a run trace, a dead letter or an error message needs to say
*which* customer without giving away their phone, address or tax id. This
module sits beside ``errors.py``, below every layer, so the store, the
connectors, the engine and the faces all mask with the same rules:

- phones ``+55 11 9****-4321`` (country, area code, first digit, last four);
- emails ``j***@example.com`` (first character of the local part, domain);
- CPF ``***.456.789-**``, CNPJ ``**.345.678/0001-**``.

Only what is *recorded* is masked: what a connector sends keeps the real
address. Masking is idempotent (a masked value is left as it is), so layers
may mask again without harm.
"""

from __future__ import annotations

import re
from collections.abc import Callable, MutableMapping
from typing import Any

MAX_DEPTH = 20

_EMAIL = re.compile(r"(?<![\w.%+-])[A-Za-z0-9][A-Za-z0-9._%+-]*"
                    r"@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_CNPJ_FORMATTED = re.compile(r"(?<!\d)\d{2}\.\d{3}\.\d{3}/\d{4}-\d{2}(?!\d)")
_CPF_FORMATTED = re.compile(r"(?<!\d)\d{3}\.\d{3}\.\d{3}-\d{2}(?!\d)")
_BARE_DIGITS = re.compile(r"(?<![\d+*])(\d{11}|\d{14})(?![\d*])")
# an international number as people and providers write it (+5511987654321, +55 11 98765-4321)
_INTERNATIONAL = re.compile(r"\+\d[\d ().-]{6,}\d")
# a Brazilian number written nationally: (11) 98765-4321, (11) 3456-7890
_NATIONAL = re.compile(r"\(\d{2}\)\s?9?\d{4}[-\s]?\d{4}(?!\d)")
# a Brazilian mobile without its plus (5511987654321), as some exports write it
_BARE_BRAZILIAN = re.compile(r"(?<![\d+*])55\d{2}9\d{8}(?![\d*])")
# every pattern above needs a digit or an "@"
_MAYBE_PERSONAL = re.compile(r"[\d@]")


def _digits(text: str) -> str:
    return "".join(char for char in text if char.isascii() and char.isdigit())


def mask_phone(number: object) -> str:
    """``+5511987654321`` -> ``+55 11 9****-4321``; only digits survive, so nothing else leaks through."""
    text = str(number).removeprefix("whatsapp:").strip()
    digits = _digits(text)
    if len(digits) <= 2:
        return "*" * len(digits) or "(no digits)"
    if len(digits) <= 6:  # a short code, or a typo: its last two digits are enough to find it
        return "*" * (len(digits) - 2) + digits[-2:]
    international = text.startswith("+") or (len(digits) in (12, 13) and digits.startswith("55"))
    if international and digits.startswith("55") and len(digits) in (12, 13):
        return f"+55 {_brazilian(digits[2:])}"
    if international:
        country = _country_code(digits)
        hidden = max(len(digits) - len(country) - 4, 1)
        return f"+{country} {'*' * hidden}{digits[-4:]}" if country else f"+{'*' * hidden}{digits[-4:]}"
    if len(digits) in (10, 11):
        return _brazilian(digits)
    return "*" * (len(digits) - 4) + digits[-4:]


def _brazilian(national: str) -> str:
    """``11987654321`` -> ``11 9****-4321``; a landline ``1134567890`` -> ``11 ****-7890``."""
    area, rest = national[:2], national[2:]
    first = rest[0] if len(rest) == 9 else ""
    return f"{area} {first}{'*' * (len(rest) - len(first) - 4)}-{rest[-4:]}"


def _country_code(digits: str) -> str:
    import phonenumbers

    try:
        return str(phonenumbers.parse("+" + digits, None).country_code)
    except phonenumbers.NumberParseException:
        return ""


def mask_email(address: str) -> str:
    """``joao.silva@example.com`` -> ``j***@example.com``."""
    local, _, domain = address.strip().rpartition("@")
    if not local:
        return "***"
    return f"{local[0]}***@{domain}"


def mask_cpf(value: str) -> str:
    """``123.456.789-09`` or ``12345678909`` -> ``***.456.789-**``."""
    digits = _digits(value)
    return f"***.{digits[3:6]}.{digits[6:9]}-**" if len(digits) == 11 else "***"


def mask_cnpj(value: str) -> str:
    """``12.345.678/0001-95`` -> ``**.345.678/0001-**``."""
    digits = _digits(value)
    return f"**.{digits[2:5]}.{digits[5:8]}/{digits[8:12]}-**" if len(digits) == 14 else "***"


def mask_tax_id(value: str) -> str:
    compact = re.sub(r"[.\-/\s]", "", value)
    return mask_cpf(compact) if len(compact) == 11 else mask_cnpj(compact)


def _bare_tax_id(match: re.Match[str]) -> str:
    """Eleven or fourteen digits are a tax id only when their check digits say so (ids, amounts stay)."""
    import brutils

    digits = match.group(0)
    if len(digits) == 11 and brutils.is_valid_cpf(digits):
        return mask_cpf(digits)
    if len(digits) == 14 and brutils.is_valid_cnpj(digits):
        return mask_cnpj(digits)
    return digits


def _international(match: re.Match[str]) -> str:
    found = match.group(0)
    return mask_phone(found) if len(_digits(found)) >= 8 else found


_REPLACERS: tuple[tuple[re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    (_EMAIL, lambda m: mask_email(m.group(0))),
    (_CNPJ_FORMATTED, lambda m: mask_cnpj(m.group(0))),
    (_CPF_FORMATTED, lambda m: mask_cpf(m.group(0))),
    (_BARE_BRAZILIAN, lambda m: mask_phone("+" + m.group(0))),
    (_BARE_DIGITS, _bare_tax_id),
    (_INTERNATIONAL, _international),
    (_NATIONAL, lambda m: mask_phone(m.group(0))),
)


def mask_text(text: str) -> str:
    """``text`` with every phone, email, CPF and CNPJ in it masked."""
    if not text or _MAYBE_PERSONAL.search(text) is None:  # seven scans spared for most words
        return text
    for pattern, replace in _REPLACERS:
        text = pattern.sub(replace, text)
    return text


def mask_value(value: Any, depth: int = 0) -> Any:
    """A copy of ``value`` (dicts, lists, strings) with personal data in every string masked."""
    if depth > MAX_DEPTH:
        return "***"
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {key: mask_value(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [mask_value(item, depth + 1) for item in value]
    return value


def mask_error(error: BaseException) -> str:
    """An exception's message as records and faces may show it."""
    return mask_text(str(error))


def structlog_processor(_logger: Any, _method: str,
                        event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """The last processor before rendering: every value of the log line masked (its message too)."""
    for key, item in list(event.items()):
        if isinstance(item, str | dict | list | tuple):
            event[key] = mask_value(item)
        elif isinstance(item, BaseException):
            event[key] = mask_error(item)
    return event
