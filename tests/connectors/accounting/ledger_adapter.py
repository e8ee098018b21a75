"""An in-memory accounting "system" for orchestration tests: it plays a vendor, not a wire.

It keeps customers and receivables by the integration code we send (a create retried with the
same code finds the first one, as Asaas' externalReference and Omie's codigo_*_integracao do), can
be told to fail (transiently, permanently, or after doing the work: a lost response), to change a
field on its side, and to have a payment made on its side. The real wires are tested against
each vendor's fake server.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from connectors.accounting.adapter import (
    AdapterRuntime,
    CustomerRecord,
    Exchange,
    InvoiceRecord,
    PaymentRecord,
    Remote,
    RemotePayment,
    RemoteReceivable,
)
from connectors.accounting.money import as_text
from errors import PermanentError, TransientError


@dataclass
class Ledger:
    """The system's state, shared by every adapter built on it (as a vendor's database is)."""

    customers: dict[str, dict[str, Any]] = field(default_factory=dict)  # by integration code
    receivables: dict[str, dict[str, Any]] = field(default_factory=dict)  # by external id
    codes: dict[str, str] = field(default_factory=dict)  # integration code -> external id
    settlements: dict[str, dict[str, Any]] = field(default_factory=dict)
    payments: list[RemotePayment] = field(default_factory=list)
    failures: list[Exception] = field(default_factory=list)  # raised by the next calls, in order
    lose_responses: int = 0  # the next N calls do their work, then the answer is "lost"
    calls: list[str] = field(default_factory=list)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1001))

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"

    def change(self, external_id: str, **fields: Any) -> None:
        """Someone edits the receivable in the system's own screens."""
        self.receivables[external_id].update(fields)
        self.receivables[external_id]["version"] += 1

    def pay(self, external_id: str, amount: Decimal, paid_at: datetime, method: str = "pix") -> RemotePayment:
        """A payment registered on the system's side."""
        receivable = self.receivables[external_id]
        payment = RemotePayment(external_id=self.new_id("pay"), invoice_id=receivable["invoice_id"],
                                invoice_external_id=external_id, amount=amount, method=method,
                                paid_at=paid_at)
        self.payments.append(payment)
        receivable["status"] = "paid"
        return payment


class LedgerAdapter:
    system: ClassVar[str] = "ledger"

    def __init__(self, ledger: Ledger, runtime: AdapterRuntime) -> None:
        self.ledger = ledger
        self.runtime = runtime

    def _begin(self, operation: str, request: dict[str, Any]) -> None:
        self.ledger.calls.append(operation)
        if self.ledger.failures:
            error = self.ledger.failures.pop(0)
            self.runtime.audit(Exchange(operation, request, 503 if isinstance(error, TransientError) else 400,
                                        {"error": str(error)}, outcome="failed", error=str(error)))
            raise error

    def _answer(self, operation: str, request: dict[str, Any], remote: Remote, status: int = 200) -> Remote:
        exchange = Exchange(operation, request, status, {"id": remote.external_id, "status": remote.status})
        self.runtime.audit(exchange)
        if self.ledger.lose_responses:
            self.ledger.lose_responses -= 1
            raise TransientError(f"{operation}: read timeout (the system may have done it)")
        return Remote(remote.external_id, remote.status, remote.fields, remote.outputs, remote.version,
                      exchanges=[exchange])  # the same exchange again: the connector keeps it once

    def check(self) -> dict[str, Any]:
        self._begin("check", {})
        return {"target": "ledger", "detail": "ok"}

    def upsert_customer(self, customer: CustomerRecord, key: str) -> Remote:
        request = {"code": key, "tax_id": customer.tax_id, "name": customer.name}
        self._begin("upsert_customer", request)
        found = self.ledger.customers.get(key)
        if found is None:
            found = self.ledger.customers[key] = {"id": self.ledger.new_id("cus"), "tax_id": customer.tax_id}
        found["name"] = customer.name
        remote = Remote(found["id"], "active", {"name": customer.name})
        return self._answer("upsert_customer", request, remote)

    def push_invoice(self, invoice: InvoiceRecord, customer_external_id: str, key: str) -> Remote:
        request = {"code": key, "customer": customer_external_id, "amount": as_text(invoice.amount),
                   "due_date": invoice.due_date.isoformat()}
        self._begin("push_invoice", request)
        external_id = self.ledger.codes.get(key)
        if external_id is None:
            external_id = self.ledger.codes[key] = self.ledger.new_id("rec")
            self.ledger.receivables[external_id] = {"invoice_id": invoice.id, "status": "open", "version": 0}
        receivable = self.ledger.receivables[external_id]
        receivable.update(amount=invoice.amount, due_date=invoice.due_date, customer=customer_external_id,
                          description=invoice.description)
        receivable["version"] += 1
        return self._answer("push_invoice", request, self._remote(external_id))

    def fetch_invoice(self, external_id: str) -> Remote:
        """The optional read (``sync.InvoiceReader``): the receivable as the system holds it now."""
        self._begin("fetch_invoice", {"id": external_id})
        return self._remote(external_id)

    def _remote(self, external_id: str) -> Remote:
        r = self.ledger.receivables[external_id]
        fields = {"amount": float(r["amount"]), "due_date": r["due_date"].isoformat(), "status": r["status"]}
        outputs = {"pix_payload": f"00020126PIX{external_id}", "boleto_line": f"34191.{external_id}",
                   "invoice_url": f"https://ledger.test/i/{external_id}"}
        return Remote(external_id, r["status"], fields, outputs, version=str(r["version"]))

    def cancel_invoice(self, external_id: str, key: str) -> Remote:
        self._begin("cancel_invoice", {"id": external_id})
        if external_id not in self.ledger.receivables:
            raise PermanentError(f"receivable {external_id} not found", code="not_found")
        self.ledger.receivables[external_id]["status"] = "cancelled"
        return self._answer("cancel_invoice", {"id": external_id}, self._remote(external_id))

    def settle(self, payment: PaymentRecord, invoice_external_id: str, key: str) -> Remote:
        request = {"code": key, "receivable": invoice_external_id, "amount": as_text(payment.amount)}
        self._begin("settle", request)
        found = self.ledger.settlements.get(key)
        if found is None:
            found = self.ledger.settlements[key] = {"id": self.ledger.new_id("stl"), "amount": payment.amount}
            self.ledger.receivables[invoice_external_id]["status"] = "paid"
        return self._answer("settle", request, Remote(found["id"], "settled", {"amount": payment.amount}))

    def refund(self, payment_external_id: str, amount: Decimal | None, key: str) -> Remote:
        request = {"payment": payment_external_id, "amount": as_text(amount) if amount is not None else None}
        self._begin("refund", request)
        return self._answer("refund", request, Remote(payment_external_id, "refunded", {}))

    def issue_service_invoice(self, invoice: InvoiceRecord, invoice_external_id: str, key: str) -> Remote:
        request = {"receivable": invoice_external_id, "amount": as_text(invoice.amount)}
        self._begin("issue_service_invoice", request)
        return self._answer("issue_service_invoice", request,
                            Remote(f"nfse_{invoice_external_id}", "scheduled", {}, {"number": "2026/1"}))

    def payments_since(self, since: datetime) -> list[RemotePayment]:
        self._begin("payments_since", {"since": since.isoformat()})
        return [p for p in self.ledger.payments if p.paid_at >= since]

    def open_receivables(self) -> list[RemoteReceivable]:
        self._begin("open_receivables", {})
        return [RemoteReceivable(external_id, r["invoice_id"], r["amount"], r["due_date"], r["status"])
                for external_id, r in self.ledger.receivables.items() if r["status"] == "open"]


def due(day: str) -> date:
    return date.fromisoformat(day)
