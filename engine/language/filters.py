"""Jinja2 filters for Brazilian customers: money, dates, phone numbers."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from jinja2 import Undefined

_WEEKDAYS = ("segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira",
             "sábado", "domingo")


def brl(value: Any) -> str:
    """``1234.5`` -> ``R$ 1.234,50``."""
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise ValueError(f"brl: not an amount: {value!r}") from exc
    sign = "-" if amount < 0 else ""
    whole, cents = f"{abs(amount):.2f}".split(".")
    grouped = f"{int(whole):,}".replace(",", ".")
    return f"{sign}R$ {grouped},{cents}"


def _as_datetime(value: Any) -> datetime | date:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()  # names the missing field, as other filters do
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    raise ValueError(f"not a date: {value!r}")


def _local(value: Any, timezone: str | None) -> datetime | date:
    moment = _as_datetime(value)
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        moment = moment.astimezone(ZoneInfo(timezone or "America/Sao_Paulo"))
    return moment


def data_br(value: Any, timezone: str | None = None) -> str:
    """``2026-12-01T12:00:00Z`` -> ``01/12/2026``."""
    return _local(value, timezone).strftime("%d/%m/%Y")


def data_hora_br(value: Any, timezone: str | None = None) -> str:
    """``2026-12-01T12:00:00Z`` -> ``01/12/2026 às 09:00`` (in São Paulo by default)."""
    moment = _local(value, timezone)
    return moment.strftime("%d/%m/%Y às %H:%M")


def hora_br(value: Any, timezone: str | None = None) -> str:
    return _local(value, timezone).strftime("%H:%M")


def dia_semana(value: Any, timezone: str | None = None) -> str:
    return _WEEKDAYS[_local(value, timezone).weekday()]


def telefone_br(value: Any) -> str:
    """``+5511987654321`` -> ``(11) 98765-4321``; unparseable input is returned unchanged."""
    try:
        number = phonenumbers.parse(str(value), "BR")
    except phonenumbers.NumberParseException:
        return str(value)
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)


FILTERS = {
    "brl": brl,
    "data_br": data_br,
    "data_hora_br": data_hora_br,
    "hora_br": hora_br,
    "dia_semana": dia_semana,
    "telefone_br": telefone_br,
}
