"""The retention purge: records older than their policy (``privacy.retention``) are deleted.

Each kind of record is purged in batches of ``batch_size`` rows, each batch its own short
transaction (select the oldest ids, delete them, commit), so the pipeline's writes never
wait behind a long delete; at most ``max_batches`` per kind and pass, the rest goes next day.

The order respects the references between tables: WhatsApp messages before the
notifications they point at, resolved dead letters before their runs, runs and their steps
(after unlinking the notifications of those steps) before the events they were planned from.
Invoices are purged only when ``retention.invoices`` is set (5 years at least, see
``store.privacy.settings``), settled or cancelled ones only, with their payments. Last, the
CPF/CNPJ an anonymised customer kept for their invoices is cleared once the newest of those
invoices is 5 years old.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from store.audit import record_action
from store.models import (
    AuditLogEntry,
    Customer,
    DeadLetter,
    Event,
    Invoice,
    Notification,
    Payment,
    RuleRun,
    RuleStep,
    WhatsAppMessage,
)
from store.models.accounting import AccountingSyncAudit
from store.privacy.scrub import ANONYMOUS_NAME
from store.privacy.settings import FISCAL_MINIMUM, PrivacySettings
from store.run_lifecycle import ACTIVE_RUNS, RunStatus
from store.types import utcnow

ACTOR = "system:retention"
SETTLED_INVOICES = ("paid", "cancelled", "refunded")
Prepare = Callable[[sa.Connection, list[Any]], None]


def _t(model: type) -> sa.Table:
    table: sa.Table = model.__table__  # type: ignore[attr-defined]
    return table


@dataclass(frozen=True)
class Target:
    """One kind of record: which rows are due before ``cutoff``, and what to do before deleting them."""

    name: str
    policy: str
    table: sa.Table
    age: str  # the column compared with the cutoff
    due: Callable[[datetime], Sequence[sa.ColumnElement[bool]]]
    prepare: Prepare | None = None

    @property
    def key(self) -> sa.Column[Any]:
        (column,) = self.table.primary_key.columns
        return column

    def condition(self, cutoff: datetime) -> sa.ColumnElement[bool]:
        return sa.and_(self.table.c[self.age] < cutoff, *self.due(cutoff))


def _unlink_and_drop_steps(connection: sa.Connection, run_ids: list[Any]) -> None:
    steps = sa.select(_t(RuleStep).c.id).where(_t(RuleStep).c.run_id.in_(run_ids))
    notifications, step_table = _t(Notification), _t(RuleStep)
    connection.execute(sa.update(notifications).where(notifications.c.step_id.in_(steps)).values(step_id=None))
    # a fallback recorded in another run must not keep these steps alive
    connection.execute(sa.update(step_table).where(step_table.c.fallback_of.in_(steps),
                                                   step_table.c.run_id.not_in(run_ids)).values(fallback_of=None))
    connection.execute(sa.delete(_t(RuleStep)).where(_t(RuleStep).c.run_id.in_(run_ids)))


def _drop_payments(connection: sa.Connection, invoice_ids: list[Any]) -> None:
    connection.execute(sa.delete(_t(Payment)).where(_t(Payment).c.invoice_id.in_(invoice_ids)))


def targets() -> list[Target]:
    messages, notes, letters = _t(WhatsAppMessage), _t(Notification), _t(DeadLetter)
    runs, steps, events, invoices = _t(RuleRun), _t(RuleStep), _t(Event), _t(Invoice)
    finished = [s.value for s in RunStatus if s not in ACTIVE_RUNS and s != RunStatus.HELD]
    return [
        Target("whatsapp_messages", "messages", messages, "created_at", lambda _: ()),
        Target("notifications", "messages", notes, "created_at", lambda _: (
            ~sa.exists().where(messages.c.notification_id == notes.c.id),)),
        Target("dead_letters", "dead_letters", letters, "created_at", lambda _: (
            letters.c.resolved_at.is_not(None),)),
        Target("rule_runs", "runs", runs, "created_at", lambda cutoff: (
            runs.c.status.in_(finished), sa.or_(runs.c.finished_at.is_(None), runs.c.finished_at < cutoff),
            ~sa.exists().where(letters.c.step_id == steps.c.id, steps.c.run_id == runs.c.id)),
            _unlink_and_drop_steps),
        Target("events", "events", events, "occurred_at", lambda _: (
            events.c.dispatched_at.is_not(None),
            ~sa.exists().where(runs.c.event_id == events.c.id),
            ~sa.exists().where(letters.c.event_id == events.c.id))),
        Target("audit_log", "audit", _t(AuditLogEntry), "at", lambda _: ()),
        Target("accounting_audit", "accounting_audit", _t(AccountingSyncAudit), "at", lambda _: ()),
        Target("invoices", "invoices", invoices, "issued_at", lambda _: (
            invoices.c.status.in_(SETTLED_INVOICES),), _drop_payments),
    ]


@dataclass
class PurgeReport:
    dry_run: bool
    at: datetime
    cutoffs: dict[str, datetime] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)
    complete: bool = True  # False: a kind hit max_batches, the rest waits for the next pass

    def to_dict(self) -> dict[str, Any]:
        return {"dry_run": self.dry_run, "at": self.at.isoformat(), "complete": self.complete,
                "cutoffs": {k: v.isoformat() for k, v in self.cutoffs.items()}, "counts": dict(self.counts)}


def purge(engine: sa.Engine, settings: PrivacySettings, *, dry_run: bool = False,
          now: datetime | None = None) -> PurgeReport:
    """Delete (or, dry, count) what is past its retention; the report is audited unless dry."""
    at = now or utcnow()
    report = PurgeReport(dry_run, at)
    periods = settings.retention.periods()
    for target in targets():
        period = periods.get(target.policy)
        if period is None:
            continue
        cutoff = at - period
        report.cutoffs[target.policy] = cutoff
        if dry_run:
            report.counts[target.name] = _count(engine, target, cutoff)
        else:
            count, done = _delete_batches(engine, target, cutoff, settings.purge_batch_size,
                                          settings.purge_max_batches)
            report.counts[target.name] = count
            report.complete = report.complete and done
    report.counts["fiscal_ids_cleared"] = _fiscal_ids(engine, at, dry_run, settings.purge_batch_size)
    if not dry_run:
        with Session(engine) as session:
            record_action(session, ACTOR, "privacy.purge", details=report.to_dict())
            session.commit()
    return report


def _count(engine: sa.Engine, target: Target, cutoff: datetime) -> int:
    with engine.connect() as connection:
        statement = sa.select(sa.func.count()).select_from(target.table).where(target.condition(cutoff))
        return int(connection.execute(statement).scalar_one())


def _delete_batches(engine: sa.Engine, target: Target, cutoff: datetime, size: int,
                    max_batches: int) -> tuple[int, bool]:
    total = 0
    for _ in range(max_batches):
        with engine.begin() as connection:
            ids = list(connection.execute(sa.select(target.key).where(target.condition(cutoff))
                                          .order_by(target.table.c[target.age]).limit(size)).scalars())
            if not ids:
                return total, True
            if target.prepare is not None:
                target.prepare(connection, ids)
            connection.execute(sa.delete(target.table).where(target.key.in_(ids)))
        total += len(ids)
        if len(ids) < size:
            return total, True
    return total, False


def _fiscal_ids(engine: sa.Engine, at: datetime, dry_run: bool, size: int) -> int:
    """Anonymised customers whose newest invoice is 5 years old give up their CPF/CNPJ."""
    customers, invoices, orders = _t(Customer), _t(Invoice), Customer.metadata.tables["service_orders"]
    recent = sa.exists().where(orders.c.customer_id == customers.c.id, invoices.c.order_id == orders.c.id,
                               invoices.c.issued_at >= at - FISCAL_MINIMUM)
    due = sa.and_(customers.c.name == ANONYMOUS_NAME, customers.c.tax_id.is_not(None), ~recent)
    with engine.begin() as connection:
        ids = list(connection.execute(sa.select(customers.c.id).where(due).limit(size)).scalars())
        if ids and not dry_run:
            connection.execute(sa.update(customers).where(customers.c.id.in_(ids)).values(tax_id=None))
    return len(ids)


