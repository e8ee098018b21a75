"""Checks run on every flush, so no path into the database skips them.

Before new or changed rows are written, each field listed in the model's
``normalizers`` is checked and put in canonical form, timestamps must carry
a time zone, and every foreign key must point at an existing row. Errors are
``ValidationFailed`` naming ``entity.field``; the caller's transaction is
rolled back, so nothing is half-written.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session
from sqlmodel.main import default_registry

from store.errors import ValidationFailed
from store.models.base import Record
from store.types import UTCDateTime
from store.validation import check_aware


def check_record(session: Session, record: Record, *, changed_only: bool) -> None:
    table = record.__table__
    state = sa.inspect(record)
    for column in table.columns:
        name = column.key
        if changed_only and not state.attrs[name].history.has_changes():
            continue
        field = f"{record.entity}.{name}"
        value = getattr(record, name)
        normalizer = record.normalizers.get(name)
        if normalizer is not None:
            normalized = normalizer(field, value)
            if normalized is not value:
                setattr(record, name, normalized)
            value = normalized
        if isinstance(column.type, UTCDateTime):
            check_aware(field, value)
        if value is not None:
            _check_references(session, record, column, field, value)


def _check_references(session: Session, record: Record, column: sa.Column[Any], field: str,
                      value: Any) -> None:
    for foreign_key in column.foreign_keys:
        target = _model_for_table(foreign_key.column.table)
        if target is type(record) and getattr(record, foreign_key.column.key) == value:
            continue  # a row pointing at itself
        # session.get looks in the identity map first: rows added in this
        # transaction (seeding) cost no query
        if (target, value) in session.info.get(_PENDING, ()):
            continue  # added in this same flush: the database will get both rows together
        with session.no_autoflush:
            found = session.get(target, value)
        if found is None:
            raise ValidationFailed(field, f"no {target.entity} with id '{value}'")


_PENDING = "despacho_pending_rows"


def _primary_key(record: Record) -> Any:
    (column,) = record.__table__.primary_key.columns
    return getattr(record, column.key)


def _model_for_table(table: sa.Table) -> type[Record]:
    for mapper in default_registry.mappers:
        if mapper.local_table is table:
            return mapper.class_
    raise LookupError(f"no model maps table {table.name}")


@event.listens_for(Session, "before_flush")
def _before_flush(session: Session, flush_context: Any, instances: Any) -> None:
    session.info[_PENDING] = {
        (type(record), sa.inspect(record).identity_key[1][0] if sa.inspect(record).identity_key
         else _primary_key(record))
        for record in session.new if isinstance(record, Record)
    }
    for record in list(session.new):
        if isinstance(record, Record):
            check_record(session, record, changed_only=False)
    for record in list(session.dirty):
        if isinstance(record, Record) and session.is_modified(record):
            check_record(session, record, changed_only=True)
