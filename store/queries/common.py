"""Pieces shared by the named queries."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import SQLCoreOperations

from store.errors import ValidationFailed


def literal_in(column: SQLCoreOperations[Any], values: Sequence[str]) -> sa.ColumnElement[bool]:
    """``column IN ('a', 'b')`` with the values inlined, not bound.

    PostgreSQL uses a partial index only when it can prove the query's
    condition implies the index's; with bound parameters a cached generic
    plan cannot, so the status lists behind partial indexes are literals.
    """
    return column.in_(sa.bindparam(None, list(values), expanding=True, literal_execute=True))


def literal_not_in(column: SQLCoreOperations[Any], values: Sequence[str]) -> sa.ColumnElement[bool]:
    return column.not_in(sa.bindparam(None, list(values), expanding=True, literal_execute=True))


def check_at(at: datetime) -> datetime:
    if not isinstance(at, datetime) or at.tzinfo is None:
        raise ValidationFailed("at", f"{at!r} needs a time zone")
    return at
