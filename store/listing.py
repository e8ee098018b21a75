"""Keyset (cursor) pagination with equality filters and one sort field.

A cursor is the last row's ``(sort value, id)`` and the sort it belongs to,
base64url-encoded JSON; the next page starts strictly after it. Unlike
offsets, rows inserted meanwhile never shift a page, and a page deep in a
large table costs one index range scan. Sorting is limited to non-null
columns so ``(value, id)`` orders every row.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

import sqlalchemy as sa
from sqlmodel import Session, select

from store.errors import ValidationFailed
from store.models.base import Record
from store.types import UTCDateTime

T = TypeVar("T", bound=Record)
MAX_LIMIT = 200


@dataclass(frozen=True)
class ListSpec(Generic[T]):
    """What one resource may be filtered and sorted by."""

    model: type[T]
    sort_fields: tuple[str, ...]
    filter_fields: tuple[str, ...] = ()
    default_sort: str = "-created_at"
    conditions: tuple[Any, ...] = field(default_factory=tuple)  # always applied (soft delete ...)


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: str | None


def list_page(session: Session, spec: ListSpec[T], *, filters: Mapping[str, Any] | None = None,
              sort: str | None = None, limit: int = 50, cursor: str | None = None) -> Page[T]:
    sort = sort or spec.default_sort
    name, descending = sort.removeprefix("-"), sort.startswith("-")
    if name not in spec.sort_fields:
        raise ValidationFailed("sort", f"'{sort}' is not sortable; use one of "
                                       f"{', '.join(spec.sort_fields)} (prefix '-' for descending)")
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationFailed("limit", f"must be between 1 and {MAX_LIMIT}")
    model = spec.model
    column, key = getattr(model, name), model.id  # type: ignore[attr-defined]
    statement = select(model).where(*spec.conditions)
    for field_name, value in (filters or {}).items():
        if value is None:
            continue
        if field_name not in spec.filter_fields:
            raise ValidationFailed(field_name, "cannot filter by this field")
        statement = statement.where(getattr(model, field_name) == value)
    if cursor:
        value, last_id = decode_cursor(cursor, sort, column)
        after = sa.tuple_(column, key) < sa.tuple_(value, last_id) if descending else \
            sa.tuple_(column, key) > sa.tuple_(value, last_id)
        statement = statement.where(after)
    order = (column.desc(), key.desc()) if descending else (column.asc(), key.asc())
    rows = session.exec(statement.order_by(*order).limit(limit + 1)).all()
    items = rows[:limit]
    next_cursor = encode_cursor(sort, getattr(items[-1], name), items[-1].id) if len(rows) > limit else None  # type: ignore[attr-defined]
    return Page(items, next_cursor)


def encode_cursor(sort: str, value: Any, record_id: str) -> str:
    raw = json.dumps({"s": sort, "v": _jsonable(value), "id": record_id}, separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str, column: Any) -> tuple[Any, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise ValueError("not a cursor")
        if data.get("s") != sort:
            raise ValidationFailed("cursor", f"this cursor belongs to sort '{data.get('s')}', not '{sort}'")
        return _from_json(data.get("v"), column), data["id"]
    except (ValueError, ArithmeticError, binascii.Error, UnicodeDecodeError, TypeError) as exc:
        raise ValidationFailed("cursor", "not a cursor from a previous page") from exc


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _from_json(value: Any, column: Any) -> Any:
    column_type = column.type
    if isinstance(column_type, UTCDateTime | sa.DateTime):
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            raise ValueError("naive time in cursor")
        return parsed
    if isinstance(column_type, sa.Date):
        return date.fromisoformat(value)
    if isinstance(column_type, sa.Numeric):
        return Decimal(value)
    expected = bool if isinstance(column_type, sa.Boolean) else \
        int if isinstance(column_type, sa.Integer) else str
    if not isinstance(value, expected):
        raise ValueError("wrong type in cursor")
    return value
