"""Rule actions as adapter calls: read our rows, call the system, record everything in one transaction.

Each operation runs in three parts: a first transaction reads our rows, builds the records
(checking tax ids, rolling boleto due dates) and makes sure the sync record exists; then the
adapter is called with no transaction open; a last transaction stores the outcome — the sync
record (synced or failed), ``external_ids``, one audit row per exchange with the rule and step,
the conflicts, and the effect under the step's idempotency key, so a redelivered step returns
the first outputs and calls nobody. A step retried after a lost response calls the system again
with the same integration code, and the system finds what it already made.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, replace
from datetime import date
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from connectors.accounting.adapter import (
    AccountingAdapter,
    AdapterRuntime,
    Exchange,
    InvoiceRecord,
    Remote,
)
from connectors.accounting.conflicts import Conflict, resolve
from connectors.accounting.money import as_text, brl
from connectors.accounting.records import customer_record, invoice_record, payment_record, pays_by_boleto
from connectors.accounting.registry import adapter_for
from connectors.accounting.settings import AccountingSettings
from errors import ConnectorError, PermanentError

if TYPE_CHECKING:
    from sqlmodel import Session

    from store.accounting_sync import AuditContext

SessionFactory = Callable[[], AbstractContextManager["Session"]]


@runtime_checkable
class InvoiceReader(Protocol):
    """Optional: an adapter that can read one receivable/charge as the system holds it now."""

    def fetch_invoice(self, external_id: str) -> Remote: ...


@dataclass(frozen=True)
class Origin:
    """Where a call comes from: the step's key, rule and step (commands and jobs have none)."""

    key: str
    rule_id: str | None = None
    step_id: str | None = None


class _Exchanges(threading.local):
    """The exchanges adapters report while one call runs on this thread (worker threads share adapters)."""

    def __init__(self) -> None:
        self.items: list[Exchange] = []


class Sync:
    """The accounting operations, for one configuration and database."""

    def __init__(self, settings: AccountingSettings, session: SessionFactory, *, redis_url: str | None = None,
                 secrets: Callable[[], Any] | None = None, namespace: str = "despacho") -> None:
        self.settings = settings
        self.session = session
        self.redis_url = redis_url
        self.secrets = secrets
        self.namespace = namespace
        self._adapters: dict[str, AccountingAdapter] = {}
        self._lock = threading.Lock()
        self._exchanges = _Exchanges()

    def adapter(self, system: str) -> AccountingAdapter:
        with self._lock:
            if system not in self._adapters:
                runtime = AdapterRuntime(audit=self._exchanges.items.append, session_factory=self.session,
                                         redis_url=self.redis_url, secrets=self.secrets,
                                         namespace=self.namespace)
                self._adapters[system] = adapter_for(system, self.settings, runtime)
            return self._adapters[system]

    # --- the actions ----------------------------------------------------------------------------

    def sync_customer(self, customer_id: str, system: str, origin: Origin) -> dict[str, Any]:
        with self.session() as session:
            done = _recorded(session, origin.key)
            if done is not None:
                return done
        external_id = self.ensure_customer(customer_id, system, origin, force=True)
        outputs = {"external_id": external_id, "status": "synced"}
        with self.session() as session:
            _record_effect(session, origin.key, "accounting.sync_customer", outputs)
        return outputs

    def ensure_customer(self, customer_id: str, system: str, origin: Origin, *, force: bool = False) -> str:
        """The customer's id in the system, upserting it first when it is not there (or ``force``)."""
        from store.accounting_sync import ensure_record

        with self.session() as session:
            customer = customer_record(session, customer_id)
            record = ensure_record(session, system, "customer", customer_id, f"customer:{customer_id}")
            if record.status == "synced" and record.external_id and not force:
                return record.external_id
            code = record.integration_code
        context = _context(system, "customer", customer_id, origin)
        remote = self._call(context, "upsert_customer",
                            lambda a: a.upsert_customer(customer, code))
        with self.session() as session:
            self._store(session, context, remote, {"tax_id": customer.tax_id, "name": customer.name})
        return remote.external_id

    def sync_invoice(self, invoice_id: str, system: str, origin: Origin) -> dict[str, Any]:
        from store.accounting_sync import ensure_record

        with self.session() as session:
            done = _recorded(session, origin.key)
            if done is not None:
                return done
            boleto = pays_by_boleto(system, self.settings.asaas.billing_type)
            invoice = invoice_record(session, invoice_id, boleto=boleto)
            record = ensure_record(session, system, "invoice", invoice_id, origin.key)
            known, synced, code = record.external_id, record.synced_fields, record.integration_code
        customer_id = self.ensure_customer(invoice.customer.id, system, origin)
        context = _context(system, "invoice", invoice_id, origin)
        conflicts: list[Conflict] = []
        taken: dict[str, Any] = {}
        if known and synced:
            invoice, conflicts, taken = self._settle_conflicts(system, known, invoice, synced)
        pushed = invoice
        remote = self._call(context, "push_invoice",
                            lambda a: a.push_invoice(pushed, customer_id, code))
        outputs = {"external_id": remote.external_id, "status": remote.status,
                   "due_date": invoice.due_date.isoformat(), "invoice_url": "", "pix_payload": "",
                   "pix_qr_code": "", "boleto_line": "", **remote.outputs}
        with self.session() as session:
            self._store(session, context, remote, invoice_fields(invoice), conflicts=conflicts)
            _take_theirs(session, invoice_id, taken)
            _record_effect(session, origin.key, "accounting.sync_invoice", outputs)
        return outputs

    def cancel_invoice(self, invoice_id: str, system: str, origin: Origin) -> dict[str, Any]:
        with self.session() as session:
            done = _recorded(session, origin.key)
            if done is not None:
                return done
            external_id, code = _known(session, system, "invoice", invoice_id)
        context = _context(system, "invoice", invoice_id, origin)
        remote = self._call(context, "cancel_invoice", lambda a: a.cancel_invoice(external_id, code))
        return self._finish(context, remote, {"status": remote.status}, origin, "accounting.cancel_invoice")

    def sync_payment(self, payment_id: str, system: str, origin: Origin) -> dict[str, Any]:
        from store.accounting_sync import ensure_record

        with self.session() as session:
            done = _recorded(session, origin.key)
            if done is not None:
                return done
            payment = payment_record(session, payment_id)
            came_from = _payment_external_id(session, payment_id, system)
            record = ensure_record(session, system, "payment", payment_id, origin.key)
            code = record.integration_code
        context = _context(system, "payment", payment_id, origin)
        if came_from:  # made on that system's side and pulled here: settling it again would count it twice
            return self._skip(context, origin, came_from, "the payment came from this system")
        invoice_external_id = self.ensure_invoice(payment.invoice_id, system, origin)
        remote = self._call(context, "settle", lambda a: a.settle(payment, invoice_external_id, code))
        ours = {"amount": as_text(payment.amount), "paid_at": payment.paid_at.isoformat()}
        return self._finish(context, remote, ours, origin, "accounting.sync_payment")

    def ensure_invoice(self, invoice_id: str, system: str, origin: Origin) -> str:
        """The invoice's id in the system, pushing it first when it is not there yet."""
        from store.accounting_sync import find_record

        with self.session() as session:
            record = find_record(session, system, "invoice", invoice_id)
            if record is not None and record.external_id:
                return record.external_id
        pushed = self.sync_invoice(invoice_id, system, replace(origin, key=f"{origin.key}:invoice"))
        return str(pushed["external_id"])

    def refund_payment(self, payment_id: str, amount: Any, system: str, origin: Origin) -> dict[str, Any]:
        from store.accounting_sync import ensure_record

        with self.session() as session:
            done = _recorded(session, origin.key)
            if done is not None:
                return done
            payment = payment_record(session, payment_id)
            value = brl(amount) if amount is not None else None
            if value is not None and not (0 < value <= payment.amount):
                raise PermanentError(f"refund amount {value} must be more than 0 and at most the payment's "
                                     f"{payment.amount}", code="bad_amount")
            external_id = _payment_external_id(session, payment_id, system) or \
                _invoice_external_id(session, payment.invoice_id, system)
            record = ensure_record(session, system, "payment", payment_id, origin.key)
            code = record.integration_code
        context = _context(system, "payment", payment_id, origin)
        remote = self._call(context, "refund", lambda a: a.refund(external_id, value, code))
        refunded = as_text(value if value is not None else payment.amount)
        return self._finish(context, remote, {"refunded": refunded, "status": remote.status}, origin,
                            "accounting.refund_payment")

    def issue_service_invoice(self, invoice_id: str, system: str, origin: Origin) -> dict[str, Any]:
        from store.accounting_sync import ensure_record

        with self.session() as session:
            done = _recorded(session, origin.key)
            if done is not None:
                return done
            invoice = invoice_record(session, invoice_id, boleto=False)
            record = ensure_record(session, system, "service_invoice", invoice_id, origin.key)
            code = record.integration_code
        invoice_external_id = self.ensure_invoice(invoice_id, system, origin)
        context = _context(system, "service_invoice", invoice_id, origin)
        remote = self._call(context, "issue_service_invoice",
                            lambda a: a.issue_service_invoice(invoice, invoice_external_id, code))
        ours = {"amount": as_text(invoice.amount), "status": remote.status}
        return self._finish(context, remote, ours, origin, "accounting.issue_service_invoice")

    # --- the parts ------------------------------------------------------------------------------

    def _call(self, context: AuditContext, operation: str,
              call: Callable[[AccountingAdapter], Remote]) -> Remote:
        """Call the adapter; on failure, record it (sync record failed, its exchanges) and re-raise."""
        adapter = self.adapter(context.system)
        with self._collecting() as seen:
            try:
                remote = call(adapter)
            except ConnectorError as exc:
                with self.session() as session:
                    self._store_failure(session, context, operation, exc, seen)
                raise
        return replace(remote, exchanges=_merged(seen, remote.exchanges))

    @contextmanager
    def _collecting(self) -> Iterator[list[Exchange]]:
        self._exchanges.items.clear()
        try:
            yield self._exchanges.items
        finally:
            self._exchanges.items = []

    def _finish(self, context: AuditContext, remote: Remote, ours: dict[str, Any], origin: Origin,
                action: str) -> dict[str, Any]:
        """The call went through: record what both sides now agree on, and the step's outputs."""
        outputs = {"external_id": remote.external_id, "status": remote.status, **remote.outputs}
        with self.session() as session:
            self._store(session, context, remote, ours)
            _record_effect(session, origin.key, action, outputs)
        return outputs

    def _store(self, session: Session, context: AuditContext, remote: Remote, ours: dict[str, Any],
               conflicts: list[Conflict] | None = None) -> None:
        from store.accounting_sync import add_audit, add_conflict, mark_synced, set_external_id

        record = _record_of(session, context)
        agreed = {**ours, **comparable(remote.fields)}
        diff = mark_synced(session, record, remote.external_id, agreed, remote.version)
        set_external_id(session, record.entity_type, record.entity_id, context.system, remote.external_id)
        for exchange in remote.exchanges:
            _audit(session, context, record.id, exchange, diff)
            diff = {}  # the diff belongs to the call as a whole: shown once, on its first exchange
        if not remote.exchanges:
            add_audit(session, context, record.id, operation="sync", response={"status": remote.status},
                      diff=diff)
        for c in conflicts or []:
            add_conflict(session, context, c.field, c.ours, c.theirs, c.owner, c.kept)
            add_audit(session, context, record.id, operation="conflict", outcome="conflict",
                      diff={c.field: [c.ours, c.theirs]}, response={"owner": c.owner, "kept": c.kept})

    def _store_failure(self, session: Session, context: AuditContext, operation: str, exc: ConnectorError,
                       seen: list[Exchange]) -> None:
        from store.accounting_sync import add_audit, mark_failed

        record = _record_of(session, context)
        mark_failed(session, record, str(exc))
        for exchange in seen:
            _audit(session, context, record.id, exchange, None)
        if not any(e.outcome == "failed" for e in seen):
            code = exc.code if isinstance(exc, PermanentError) else "transient"
            add_audit(session, context, record.id, operation=operation, outcome="failed",
                      error=f"{code}: {exc}")

    def _skip(self, context: AuditContext, origin: Origin, external_id: str, why: str) -> dict[str, Any]:
        from store.accounting_sync import add_audit, mark_synced

        outputs = {"external_id": external_id, "status": "skipped"}
        with self.session() as session:
            record = _record_of(session, context, origin.key)
            mark_synced(session, record, external_id, {"came_from": context.system}, None)
            add_audit(session, context, record.id, operation="settle", outcome="skipped", error=why)
            _record_effect(session, origin.key, "accounting.sync_payment", outputs)
        return outputs

    def _settle_conflicts(self, system: str, external_id: str, invoice: InvoiceRecord,
                          synced: dict[str, Any]) -> tuple[InvoiceRecord, list[Conflict], dict[str, Any]]:
        """Before an update: what the system holds now against ours and the last agreed values."""
        theirs = self._their_fields(system, external_id)
        resolution = resolve(invoice_fields(invoice), theirs, synced, self.settings.ownership)
        taken = resolution.take
        if "amount" in taken:
            invoice = replace(invoice, amount=brl(taken["amount"]))
        if "due_date" in taken:
            invoice = replace(invoice, due_date=date.fromisoformat(str(taken["due_date"])[:10]))
        return invoice, resolution.conflicts, taken

    def _their_fields(self, system: str, external_id: str) -> dict[str, Any]:
        adapter = self.adapter(system)
        with self._collecting():
            if isinstance(adapter, InvoiceReader):
                return comparable(adapter.fetch_invoice(external_id).fields)
            for receivable in adapter.open_receivables():
                if receivable.external_id == external_id:
                    return comparable({"amount": receivable.amount, "due_date": receivable.due_date})
        return {}


def invoice_fields(invoice: InvoiceRecord) -> dict[str, Any]:
    return {"amount": as_text(invoice.amount), "due_date": invoice.due_date.isoformat(),
            "description": invoice.description}


def comparable(fields: dict[str, Any]) -> dict[str, Any]:
    """A system's fields in the form ours are kept: amounts to the centavo as text, dates ISO."""
    from store.accounting_sync import jsonable

    found = jsonable(dict(fields))
    for name in ("amount", "value", "refunded"):
        if found.get(name) is not None:
            found[name] = as_text(brl(found[name]))
    if isinstance(found.get("due_date"), str):
        found["due_date"] = found["due_date"][:10]
    return dict(found)


def _record_of(session: Session, context: AuditContext, key: str | None = None) -> Any:
    from store.accounting_sync import ensure_record

    assert context.entity_type is not None and context.entity_id is not None
    return ensure_record(session, context.system, context.entity_type, context.entity_id,
                         key or f"{context.entity_type}:{context.entity_id}")


def _merged(seen: list[Exchange], returned: list[Exchange]) -> list[Exchange]:
    """Exchanges reported as they happened plus those returned, each once."""
    extra = [e for e in returned if not any(e is s or e == s for s in seen)]
    return [*seen, *extra]


def _audit(session: Session, context: AuditContext, record_id: str, exchange: Exchange,
           diff: dict[str, Any] | None) -> None:
    from store.accounting_sync import add_audit

    add_audit(session, context, record_id, operation=exchange.operation, request=exchange.request,
              response=exchange.response, status_code=exchange.status_code, diff=diff,
              outcome=exchange.outcome, error=exchange.error)


def _context(system: str, entity_type: str, entity_id: str, origin: Origin) -> AuditContext:
    from store.accounting_sync import AuditContext

    return AuditContext(system=system, entity_type=entity_type, entity_id=entity_id, direction="push",
                        rule_id=origin.rule_id, step_id=origin.step_id)


def _recorded(session: Session, key: str) -> dict[str, Any] | None:
    from store.effects import recorded_outputs

    return recorded_outputs(session, key)


def _record_effect(session: Session, key: str, action: str, outputs: dict[str, Any]) -> None:
    from store.accounting_sync import jsonable
    from store.effects import record_effect

    record_effect(session, key, action, jsonable(outputs))


def _known(session: Session, system: str, entity_type: str, entity_id: str) -> tuple[str, str]:
    from store.accounting_sync import find_record

    record = find_record(session, system, entity_type, entity_id)
    if record is None or not record.external_id:
        raise PermanentError(f"{entity_type} '{entity_id}' was never synced to {system}: nothing to cancel",
                             code="not_synced")
    return record.external_id, record.integration_code


def _payment_external_id(session: Session, payment_id: str, system: str) -> str | None:
    from store.models import Payment

    payment = session.get(Payment, payment_id)
    value = payment.external_ids.get(system) if payment is not None else None
    return str(value) if value else None


def _invoice_external_id(session: Session, invoice_id: str, system: str) -> str:
    from store.models import Invoice

    invoice = session.get(Invoice, invoice_id)
    value = invoice.external_ids.get(system) if invoice is not None else None
    if not value:
        raise PermanentError(f"invoice '{invoice_id}' has no charge in {system} to refund", code="not_synced")
    return str(value)


def _take_theirs(session: Session, invoice_id: str, taken: dict[str, Any]) -> None:
    """Fields the provider owns and changed: into our invoice (amount, due date); the others (a vendor's
    status vocabulary, the description) stay as they are on each side, recorded as conflicts."""
    from store.models import Invoice

    invoice = session.get(Invoice, invoice_id)
    if invoice is None:
        return
    if "amount" in taken:
        invoice.amount = brl(taken["amount"])
    if "due_date" in taken:
        invoice.due_date = date.fromisoformat(str(taken["due_date"])[:10])
