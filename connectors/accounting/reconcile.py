"""Open receivables compared on both sides: what is missing where, and amounts or due dates that differ.

Ours: invoices still unpaid (issued or partially paid) issued since ``since``; theirs: the
system's open receivables. A mismatch is data (the report) and an audit row with outcome
``conflict``; nothing is changed on either side — a person decides.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, time
from typing import TYPE_CHECKING, Any

from connectors.accounting.adapter import AccountingAdapter, RemoteReceivable
from connectors.accounting.banking_days import next_banking_day
from connectors.accounting.money import as_text, brl

if TYPE_CHECKING:
    from sqlmodel import Session

    from store.models import Invoice


@dataclass(frozen=True)
class Mismatch:
    kind: str  # missing_there, missing_here, closed_here, amount, due_date
    invoice_id: str | None
    number: str | None
    external_id: str | None
    ours: Any = None
    theirs: Any = None


@dataclass
class Report:
    system: str
    since: date
    ours: int = 0  # open invoices of ours compared
    theirs: int = 0  # open receivables of theirs compared
    mismatches: list[Mismatch] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.mismatches

    def to_dict(self) -> dict[str, Any]:
        return {"system": self.system, "since": self.since.isoformat(), "ours": self.ours,
                "theirs": self.theirs, "ok": self.ok, "mismatches": [asdict(m) for m in self.mismatches]}


def reconcile(session: Callable[[], AbstractContextManager[Session]], adapter: AccountingAdapter,
              since: date, system: str | None = None) -> Report:
    system = system or adapter.system
    receivables = adapter.open_receivables()
    with session() as s:
        invoices = _open_invoices(s, since)
        report = compare(system, since, invoices, receivables, _known_invoices(s, receivables))
        _audit(s, report)
    return report


def compare(system: str, since: date, invoices: list[Invoice], receivables: list[RemoteReceivable],
            known: dict[str, str]) -> Report:
    """``known``: the status of our invoices their receivables name (closed here, or older than ``since``)."""
    report = Report(system, since, ours=len(invoices), theirs=len(receivables))
    by_external = {r.external_id: r for r in receivables}
    by_ours = {r.invoice_id: r for r in receivables if r.invoice_id}
    matched: set[str] = set()
    for invoice in invoices:
        external_id = invoice.external_ids.get(system)
        theirs = by_external.get(str(external_id)) if external_id else by_ours.get(invoice.id)
        if theirs is None:
            report.mismatches.append(Mismatch("missing_there", invoice.id, invoice.number, external_id,
                                              ours=as_text(invoice.amount - invoice.amount_paid)))
            continue
        matched.add(theirs.external_id)
        report.mismatches.extend(_differences(invoice, theirs))
    for receivable in receivables:
        if receivable.external_id not in matched:
            report.mismatches.extend(_unmatched(receivable, known, since))
    return report


def _unmatched(receivable: RemoteReceivable, known: dict[str, str], since: date) -> list[Mismatch]:
    """Open on their side only: closed on ours (paid, cancelled), or unknown to us."""
    status = known.get(receivable.invoice_id or "")
    theirs = as_text(receivable.amount)
    if status is not None:
        if status in ("issued", "partially_paid"):
            return []  # open on both sides, issued before ``since``: outside this comparison
        return [Mismatch("closed_here", receivable.invoice_id, None, receivable.external_id, ours=status,
                         theirs=theirs)]
    if receivable.due_date < since:
        return []
    return [Mismatch("missing_here", receivable.invoice_id, None, receivable.external_id, theirs=theirs)]


def _differences(invoice: Invoice, theirs: RemoteReceivable) -> list[Mismatch]:
    found = []
    due = brl(invoice.amount) - brl(invoice.amount_paid)
    if brl(theirs.amount) not in (brl(invoice.amount), due):
        found.append(Mismatch("amount", invoice.id, invoice.number, theirs.external_id,
                              ours=as_text(invoice.amount), theirs=as_text(theirs.amount)))
    # a boleto's due date was rolled to a banking day on the way: either date is ours
    if theirs.due_date not in (invoice.due_date, next_banking_day(invoice.due_date)):
        found.append(Mismatch("due_date", invoice.id, invoice.number, theirs.external_id,
                              ours=invoice.due_date.isoformat(), theirs=theirs.due_date.isoformat()))
    return found


def _open_invoices(session: Session, since: date) -> list[Invoice]:
    from sqlmodel import col, select

    from store.models import Invoice
    from store.models.billing import UNPAID_INVOICE_STATUSES

    start = datetime.combine(since, time.min).astimezone()
    query = select(Invoice).where(col(Invoice.status).in_(UNPAID_INVOICE_STATUSES),
                                  col(Invoice.deleted_at).is_(None), col(Invoice.issued_at) >= start)
    return list(session.exec(query.order_by(col(Invoice.issued_at))))


def _known_invoices(session: Session, receivables: list[RemoteReceivable]) -> dict[str, str]:
    from sqlmodel import col, select

    from store.models import Invoice

    ids = [r.invoice_id for r in receivables if r.invoice_id][:10_000]
    if not ids:
        return {}
    return dict(session.exec(select(Invoice.id, Invoice.status).where(col(Invoice.id).in_(ids))).all())


def _audit(session: Session, report: Report) -> None:
    from store.accounting_sync import AuditContext, add_audit, find_record

    for m in report.mismatches:
        record = find_record(session, report.system, "invoice", m.invoice_id) if m.invoice_id else None
        context = AuditContext(report.system, "invoice", m.invoice_id, "pull")
        add_audit(session, context, record.id if record else None, operation="reconcile", outcome="conflict",
                  diff={m.kind: [m.ours, m.theirs]}, response={"external_id": m.external_id})
    add_audit(session, AuditContext(report.system, direction="pull"), None, operation="reconcile",
              request={"since": report.since.isoformat()},
              response={"ours": report.ours, "theirs": report.theirs, "mismatches": len(report.mismatches)},
              outcome="ok" if report.ok else "conflict")
