"""Ids typed by a person: the first characters of one are enough when no other id starts with them.

``despacho runs show 3f2a`` reads better than a whole UUID; an ambiguous
prefix is refused with the candidates, never guessed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from store.errors import NotFound, StoreError

MIN_PREFIX = 4
MAX_CANDIDATES = 10


class AmbiguousId(StoreError):
    """More than one id starts with what was typed; ``candidates`` lists some of them."""

    def __init__(self, entity: str, prefix: str, candidates: list[str], more: bool) -> None:
        listed = ", ".join(candidates) + (", ..." if more else "")
        super().__init__(f"{entity} '{prefix}' is ambiguous: it starts {listed}; type more characters")
        self.entity = entity
        self.prefix = prefix
        self.candidates = candidates


class PrefixTooShort(NotFound):
    """No id is exactly what was typed, and it is too short to be taken as a prefix."""

    def __init__(self, entity: str, typed: str) -> None:
        super().__init__(entity, typed)
        self.args = (f"{entity} '{typed}' not found (an id prefix needs at least {MIN_PREFIX} characters)",)


def resolve_prefix(session: Session, column: Any, typed: str, entity: str, *conditions: Any) -> str:
    """The one value of ``column`` equal to ``typed`` or starting with it.

    An exact match wins even when longer ids start with it. ``conditions``
    narrow the rows (soft-deleted ones out). Raises ``NotFound`` (its
    ``PrefixTooShort`` for fewer than ``MIN_PREFIX`` characters, which would
    match too much to be meant) and ``AmbiguousId``.
    """
    exact = sa.select(column).where(column == typed, *conditions).limit(1)
    if session.execute(exact).first() is not None:
        return typed
    if len(typed) < MIN_PREFIX:
        raise PrefixTooShort(entity, typed)
    query = (sa.select(column).where(column.startswith(typed, autoescape=True), *conditions)
             .order_by(column).limit(MAX_CANDIDATES + 1))
    found = [row[0] for row in session.execute(query)]
    if not found:
        raise NotFound(entity, typed)
    if len(found) > 1:
        raise AmbiguousId(entity, typed, found[:MAX_CANDIDATES], len(found) > MAX_CANDIDATES)
    return str(found[0])


def resolve_prefixes(session: Session, column: Any, typed: list[str], entity: str, *conditions: Any
                     ) -> list[str]:
    """``resolve_prefix`` for each; the first that fails raises, so nothing is acted on half-way."""
    return [resolve_prefix(session, column, value, entity, *conditions) for value in typed]
