"""Cells as the spreadsheet holds them -> values as despacho stores them.

Brazilian spreadsheets write ``1.234,56`` and ``31/12/2026 14:30``; XLSX cells may
already be numbers and datetimes. A value that cannot be read raises ``ValueError``
with what was expected; the importer reports it at the row and column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

Convert = Callable[[Any, ZoneInfo], Any]

_TRUE = {"1", "true", "sim", "s", "yes", "y", "x", "ativo"}
_FALSE = {"0", "false", "não", "nao", "n", "no", "inativo"}
_BR_NUMBER = re.compile(r"^-?\d{1,3}(\.\d{3})*(,\d+)?$|^-?\d+(,\d+)?$")
_DATE_FORMATS = ("%d/%m/%Y", "%Y-%m-%d", "%d-%m-%Y")
_DATETIME_FORMATS = ("%d/%m/%Y %H:%M", "%d/%m/%Y %H:%M:%S", "%Y-%m-%d %H:%M", "%Y-%m-%d %H:%M:%S")
MAX_MONEY = Decimal("1000000000")


def blank(cell: Any) -> bool:
    return cell is None or (isinstance(cell, str) and not cell.strip())


def text(cell: Any, zone: ZoneInfo) -> str:
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))  # an id or phone typed as a number in Excel
    return str(cell).strip()


def text_list(cell: Any, zone: ZoneInfo) -> list[str]:
    """``eletrica; hidraulica`` or ``eletrica, hidraulica``."""
    parts = re.split(r"[;,]", str(cell))
    return [part.strip() for part in parts if part.strip()]


def boolean(cell: Any, zone: ZoneInfo) -> bool:
    if isinstance(cell, bool):
        return cell
    word = str(cell).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"'{str(cell)[:40]}' is not yes or no (sim/não, true/false, 1/0)")


def money(cell: Any, zone: ZoneInfo) -> Decimal:
    """``1.234,56``, ``1234,56``, ``1234.56``, ``R$ 1.234,56`` or a number cell; rounded to the centavo."""
    if isinstance(cell, bool):
        raise ValueError("is not an amount")
    if isinstance(cell, int | float):
        value = Decimal(str(cell))
    else:
        raw = str(cell).strip().removeprefix("R$").strip().replace(" ", "")
        if _BR_NUMBER.match(raw):
            raw = raw.replace(".", "").replace(",", ".")
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise ValueError(f"'{str(cell)[:40]}' is not an amount (write 1.234,56 or 1234.56)") from None
    if not value.is_finite() or abs(value) >= MAX_MONEY:
        raise ValueError(f"'{str(cell)[:40]}' is not an amount below R$ 1 billion")
    return value.quantize(Decimal("0.01"))


def day(cell: Any, zone: ZoneInfo) -> date:
    if isinstance(cell, datetime):
        return cell.date()
    if isinstance(cell, date):
        return cell
    raw = str(cell).strip()
    for form in _DATE_FORMATS:
        try:
            return datetime.strptime(raw, form).date()
        except ValueError:
            continue
    raise ValueError(f"'{raw[:40]}' is not a date (write 31/12/2026 or 2026-12-31)")


def moment(cell: Any, zone: ZoneInfo) -> datetime:
    """A date and time; one written without a zone is in the mapping's ``time_zone``."""
    if isinstance(cell, datetime):
        found = cell
    else:
        raw = str(cell).strip()
        found = _parse_moment(raw)
    if found.tzinfo is None:
        found = found.replace(tzinfo=zone)
    return found.astimezone(UTC)


def _parse_moment(raw: str) -> datetime:
    for form in _DATETIME_FORMATS:
        try:
            return datetime.strptime(raw, form)
        except ValueError:
            continue
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"'{raw[:40]}' is not a date and time (write 31/12/2026 14:30 or "
                         "2026-12-31T14:30:00-03:00)") from None
