"""The one interface every accounting system implements, and the records it exchanges.

The connector (``connector.py``) reads our rows, builds these records and calls an adapter; an
adapter speaks one vendor's wire and nothing else (no database). Every method gets the
idempotency ``key`` of the step: vendors that accept an external reference or integration code
(Asaas ``externalReference``, Omie ``codigo_*_integracao``) receive ours, so a retried create
after a timeout finds the first one instead of making a second charge. Failures raise
``TransientError`` (timeouts, 429, 5xx, rate limits; with ``retry_after`` when the vendor says)
or ``PermanentError`` (validation, not found, duplicate that cannot be resolved) with a ``code``.
Each call returns what it did as ``Exchange`` entries the connector writes to the audit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal, Protocol


@dataclass(frozen=True)
class CustomerRecord:
    id: str
    name: str
    tax_id: str | None  # CPF/CNPJ without punctuation (store.tax_ids)
    email: str | None
    phone: str | None  # E.164
    address: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None


@dataclass(frozen=True)
class InvoiceRecord:
    id: str
    number: str
    customer: CustomerRecord
    amount: Decimal
    due_date: date  # already rolled to a banking day for boletos by the connector
    description: str
    order_id: str | None = None
    status: str = "issued"


@dataclass(frozen=True)
class PaymentRecord:
    id: str
    invoice_id: str
    amount: Decimal
    method: str  # store.models.billing.PAYMENT_METHODS
    paid_at: datetime


@dataclass(frozen=True)
class Exchange:
    """One request/response, secrets already removed: a row of the sync audit."""

    operation: str
    request: dict[str, Any]
    status_code: int | None
    response: dict[str, Any] | None
    outcome: Literal["ok", "duplicate", "failed", "conflict", "skipped"] = "ok"
    error: str | None = None


@dataclass(frozen=True)
class Remote:
    """Our record as the system holds it, after a call."""

    external_id: str
    status: str
    fields: dict[str, Any] = field(default_factory=dict)  # amount, due_date, ... as the system has them
    outputs: dict[str, Any] = field(default_factory=dict)  # for the step: pix_payload, boleto_line, url...
    version: str | None = None  # etag / updated-at / version number when the system has one
    exchanges: list[Exchange] = field(default_factory=list)


@dataclass(frozen=True)
class RemotePayment:
    """A payment the system knows of (a webhook, a poll): becomes ``payment.received`` once."""

    external_id: str  # the system's id of the payment/settlement: the dedupe key
    invoice_id: str | None  # ours, from externalReference / integration code, when the system has it
    invoice_external_id: str | None
    amount: Decimal
    method: str
    paid_at: datetime


@dataclass(frozen=True)
class RemoteReceivable:
    """An open receivable on the system's side, for reconciliation."""

    external_id: str
    invoice_id: str | None
    amount: Decimal
    due_date: date
    status: str


# what an adapter calls to audit an exchange as it happens (so a crash mid-way leaves a trail)
Audit = Callable[[Exchange], None]


class AccountingAdapter(Protocol):
    system: ClassVar[str]  # "asaas" | "omie" | "conta_azul"

    def check(self) -> dict[str, Any]:
        """Credentials work and the system answers; no side effects."""
        ...

    def upsert_customer(self, customer: CustomerRecord, key: str) -> Remote: ...

    def push_invoice(self, invoice: InvoiceRecord, customer_external_id: str, key: str) -> Remote:
        """A charge (payment provider) or a receivable (ERP) for the invoice; found again on retry."""
        ...

    def cancel_invoice(self, external_id: str, key: str) -> Remote: ...

    def settle(self, payment: PaymentRecord, invoice_external_id: str, key: str) -> Remote:
        """Record our payment against the receivable (Omie's baixa, Conta Azul's settlement)."""
        ...

    def refund(self, payment_external_id: str, amount: Decimal | None, key: str) -> Remote: ...

    def issue_service_invoice(self, invoice: InvoiceRecord, invoice_external_id: str, key: str) -> Remote:
        """NFS-e through the system (never city hall directly)."""
        ...

    def payments_since(self, since: datetime) -> list[RemotePayment]:
        """Payments registered on the system's side (for systems without webhooks: polling)."""
        ...

    def open_receivables(self) -> list[RemoteReceivable]: ...


@dataclass(frozen=True)
class AdapterRuntime:
    """What an adapter may use besides its settings.

    ``session_factory``: only for an adapter's own connection state (Conta Azul's rotating
    tokens), never for our business rows; ``redis_url``: limits shared by every worker (None in
    the embedded mode: in-process limits), under keys starting with ``namespace``; ``audit``:
    called for each exchange as it happens.
    """

    audit: Audit
    session_factory: Callable[[], Any] | None = None
    redis_url: str | None = None
    secrets: Callable[[], Any] | None = None  # -> store.secrets.SecretBox
    namespace: str = "despacho"
