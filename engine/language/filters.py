"""Jinja2 filters for Brazilian customers: money, dates, phone numbers; time arithmetic."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from jinja2 import Undefined

from store.durations import parse_duration

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


def parse_time(value: Any, zone: str) -> datetime:
    """A rendered time (ISO 8601 text or a datetime) as an aware datetime; no offset: read in ``zone``.

    Raises ``ValueError`` naming what was found, for ``delay_until`` and the time filters.
    """
    if isinstance(value, str) and len(value) > 64:
        raise ValueError(f"not a time: {value[:64]!r}...")
    try:
        moment = _as_datetime(value.strip() if isinstance(value, str) else value)
    except ValueError:
        raise ValueError(f"not a time: {value!r} (write ISO 8601, e.g. 2026-12-01T09:00:00-03:00)") from None
    if not isinstance(moment, datetime):
        moment = datetime.combine(moment, datetime.min.time())
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=ZoneInfo(zone))


def _shifted(value: Any, duration: Any, sign: int, name: str) -> datetime:
    if isinstance(value, Undefined):
        value._fail_with_undefined_error()
    try:
        delta: timedelta = parse_duration(str(duration)[:40])
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None
    try:
        return parse_time(value, "UTC") + sign * delta
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


def plus(value: Any, duration: Any) -> datetime:
    """``"2026-12-02T12:00:00Z" | plus("2h")`` -> 14:00 the same day (a time, ready for other filters)."""
    return _shifted(value, duration, 1, "plus")


def minus(value: Any, duration: Any) -> datetime:
    """``data.appointment.starts_at | minus("24h")``: the time a day before."""
    return _shifted(value, duration, -1, "minus")


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
    "plus": plus,
    "minus": minus,
}
