"""Writing the rows: all of them or none, each checked as the API checks it, keyed by the source's id.

Every row runs in its own savepoint, so one bad row is reported and the next is still
checked: the admin sees every problem of the file at once. Any problem, and the whole
import is rolled back (``ImportRejected``). A row whose source id was imported before
updates that record; a dry run does everything and then rolls back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import select

from store.errors import NotFound, StoreError, ValidationFailed
from store.imports.errors import ImportRejected
from store.imports.kinds import KINDS, KindSpec
from store.imports.values import blank, text
from store.models import ImportKey, Invoice, ServiceOrder

if TYPE_CHECKING:
    from sqlmodel import Session

    from store.imports.mapping import ImportMapping
    from store.imports.sources import SourceRow
    from store.models.base import Record

MAX_ID = 200


@dataclass(frozen=True)
class RowProblem:
    file: str
    line: int
    column: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.message}"


@dataclass
class ImportReport:
    kind: str
    source: str
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    events: int = 0
    dry_run: bool = False
    record_ids: dict[str, str] = field(default_factory=dict)  # source id -> despacho id


class _RowRefused(Exception):
    def __init__(self, column: str, message: str) -> None:
        super().__init__(message)
        self.column, self.message = column, message


@dataclass
class _Planned:
    """A checked row: the record to add (``created``) or the persistent one already changed."""

    line: int
    source_id: str
    outcome: str  # created, updated or unchanged
    record: Record


def import_rows(session: Session, mapping: ImportMapping, rows: list[SourceRow], *, file: Path,
                dry_run: bool = False, emit_events: bool = False) -> ImportReport:
    """Import ``rows`` as ``mapping`` says, in the caller's transaction; ``ImportRejected`` on any problem.

    Every row is checked first, nothing written, so every problem of the file is reported at
    once; then the rows are written. The caller commits; a dry run or a refusal rolls back.
    """
    kind = mapping.kind or ""
    spec = KINDS[kind]
    report = ImportReport(kind, mapping.source, rows=len(rows), dry_run=dry_run)
    problems = _missing_columns(mapping, rows, file)
    if problems:
        raise ImportRejected(problems)
    planned: list[_Planned] = []
    seen: dict[str, int] = {}
    with session.no_autoflush:
        for row in rows:
            try:
                source_id = _source_id(mapping, row, seen)
                planned.append(_check_row(session, mapping, spec, row, source_id))
            except _RowRefused as refused:
                problems.append(RowProblem(str(file), row.line, refused.column, refused.message))
    if problems:
        session.rollback()  # the changes made to records already imported are forgotten
        raise ImportRejected(problems)
    for plan in planned:
        _write(session, mapping, spec, plan, file, report, emit_events=emit_events)
    if dry_run:
        session.rollback()
    return report


def _write(session: Session, mapping: ImportMapping, spec: KindSpec, plan: _Planned, file: Path,
           report: ImportReport, *, emit_events: bool) -> None:
    """One checked row into the session; what only the database can check (a duplicate number) refuses it."""
    if plan.outcome == "created":
        session.add(plan.record)
        session.add(ImportKey(source=mapping.source, kind=report.kind, source_id=plan.source_id,
                              record_id=str(plan.record.id)))  # type: ignore[attr-defined]
    try:
        session.flush()
    except sa.exc.IntegrityError as exc:
        session.rollback()
        reason = str(exc.orig).splitlines()[0]
        raise ImportRejected([RowProblem(str(file), plan.line, mapping.id_column,
                                         f"refused by the database: {reason}")]) from exc
    if plan.outcome == "created" and emit_events and spec.events:
        _record_event(session, spec.events, plan.record)
        report.events += 1
    setattr(report, plan.outcome, getattr(report, plan.outcome) + 1)
    report.record_ids[plan.source_id] = str(plan.record.id)  # type: ignore[attr-defined]


def _missing_columns(mapping: ImportMapping, rows: list[SourceRow], file: Path) -> list[RowProblem]:
    if not rows:
        return [RowProblem(str(file), 2, mapping.id_column, "the file has no rows under its header")]
    headers = set().union(*(row.cells for row in rows))
    wanted = [mapping.id_column, *mapping.columns.values(), *mapping.references.values()]
    return [RowProblem(str(file), 1, column, "no such column in the header (mapping file names it)")
            for column in dict.fromkeys(wanted) if column not in headers]


def _source_id(mapping: ImportMapping, row: SourceRow, seen: dict[str, int]) -> str:
    cell = row.cells.get(mapping.id_column)
    if blank(cell):
        raise _RowRefused(mapping.id_column, "the row has no id")
    source_id = text(cell, ZoneInfo("UTC"))
    if len(source_id) > MAX_ID:
        raise _RowRefused(mapping.id_column, f"an id longer than {MAX_ID} characters")
    if source_id in seen:
        raise _RowRefused(mapping.id_column, f"id '{source_id}' is also on line {seen[source_id]}")
    seen[source_id] = row.line
    return source_id


def _check_row(session: Session, mapping: ImportMapping, spec: KindSpec, row: SourceRow,
               source_id: str) -> _Planned:
    """The row's record, new or updated, checked by the store's own rules (``store.guards``) unwritten."""
    from store.guards import check_record

    values = _values(session, mapping, spec, row)
    key = _key(session, mapping.source, mapping.kind or "", source_id)
    existing = session.get(spec.model, key.record_id) if key is not None else None
    if existing is None:
        record, outcome = spec.model(**values), "created"
    else:
        changed = {name: value for name, value in values.items() if getattr(existing, name) != value}
        for name, value in changed.items():
            setattr(existing, name, value)
        record, outcome = existing, ("updated" if changed else "unchanged")
    try:
        check_record(session, record, changed_only=existing is not None)
    except (ValidationFailed, NotFound) as exc:
        field_name = (getattr(exc, "field", None) or "").rsplit(".", 1)[-1]
        message = exc.message if isinstance(exc, ValidationFailed) else str(exc)
        raise _RowRefused(_column(mapping, spec, field_name), message) from exc
    except StoreError as exc:
        raise _RowRefused(mapping.id_column, str(exc)) from exc
    return _Planned(row.line, source_id, outcome, record)


def _values(session: Session, mapping: ImportMapping, spec: KindSpec, row: SourceRow) -> dict[str, Any]:
    zone = ZoneInfo(mapping.time_zone)
    values: dict[str, Any] = {}
    for name, convert in spec.fields.items():
        column = mapping.columns.get(name)
        cell = row.cells.get(column) if column else None
        if blank(cell):
            if name in mapping.defaults:
                cell, column = mapping.defaults[name], f"defaults.{name}"
            else:
                continue
        try:
            values[name] = _bounded(spec, name, convert(cell, zone))
        except ValueError as exc:
            raise _RowRefused(column or name, str(exc)) from exc
        except ValidationFailed as exc:
            raise _RowRefused(column or name, exc.message) from exc
    missing = [name for name in spec.required if name not in values]
    if missing:
        raise _RowRefused(mapping.column_of(missing[0]), "empty, and despacho needs it")
    for name, reference in spec.references.items():
        column = mapping.references.get(name)
        cell = row.cells.get(column) if column else None
        if blank(cell):
            if reference.required:
                raise _RowRefused(column or name, f"empty: a {reference.kind} row's id is needed")
            continue
        wanted = text(cell, zone)
        found = _key(session, mapping.source, reference.kind, wanted)
        if found is None:
            raise _RowRefused(column or name, f"no {reference.kind} row with id '{wanted[:80]}' was imported "
                                              f"from '{mapping.source}' (import {reference.kind} first)")
        values[reference.attribute] = found.record_id
    return values


def _bounded(spec: KindSpec, name: str, value: Any) -> Any:
    """Text longer than its column is refused here, as the API refuses it, not by the database.

    A field the store normalises (phone, e-mail, CPF/CNPJ) is measured in its stored form.
    """
    normalizer = spec.model.normalizers.get(name)
    if normalizer is not None:
        value = normalizer(f"{spec.model.entity}.{name}", value)
    column = spec.model.__table__.columns.get(name)  # type: ignore[attr-defined]
    length = getattr(column.type, "length", None) if column is not None else None
    if isinstance(value, str) and length is not None and len(value) > length:
        raise ValueError(f"longer than {length} characters")
    return value


def _column(mapping: ImportMapping, spec: KindSpec, field_name: str) -> str:
    for name, reference in spec.references.items():
        if reference.attribute == field_name:
            return mapping.column_of(name)
    return mapping.column_of(field_name) if field_name else mapping.id_column


def _key(session: Session, source: str, kind: str, source_id: str) -> ImportKey | None:
    return session.exec(select(ImportKey).where(ImportKey.source == source, ImportKey.kind == kind,
                                                ImportKey.source_id == source_id)).first()


def _record_event(session: Session, event_type: str, record: Record) -> None:
    """The event the API records when it creates such a record (only when the admin asks for events)."""
    from store.billing import invoice_payload
    from store.eventlog import record_event
    from store.service_orders import order_payload

    if isinstance(record, ServiceOrder):
        record_event(session, event_type, order_payload(session, record))
    elif isinstance(record, Invoice):
        record_event(session, event_type, invoice_payload(session, record))
