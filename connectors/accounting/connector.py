"""Accounting systems: customers, charges/receivables, settlements, refunds and NFS-e from rules.

``transport: file`` (the default) writes each call to the outbox folder, as before; ``live``
calls the configured systems through their adapters (``sync.Sync``). Which system an action
goes to when the rule does not say: charges, cancellations and customers to the payment provider
(``payments``), else the ERP; settlements to the ERP; refunds to the payment provider; NFS-e to
the ERP, else the payment provider.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar

from pydantic import Field

from connectors.accounting.settings import AccountingSettings
from connectors.base import ActionCall, ActionSpec, Connector, Params
from connectors.recorded import write_to_outbox
from errors import PermanentError

if TYPE_CHECKING:
    from connectors.accounting.sync import Sync

_SYSTEM = Field(None, max_length=50,
                description="asaas, omie or conta_azul; default: the configured payment provider or ERP")


class SyncCustomerParams(Params):
    customer_id: str = Field(max_length=36)
    system: str | None = _SYSTEM


class SyncInvoiceParams(Params):
    invoice_id: str = Field(max_length=36)
    system: str | None = _SYSTEM


class CancelInvoiceParams(Params):
    invoice_id: str = Field(max_length=36)
    system: str | None = _SYSTEM


class SyncPaymentParams(Params):
    payment_id: str = Field(max_length=36)
    system: str | None = _SYSTEM


class RefundPaymentParams(Params):
    payment_id: str = Field(max_length=36)
    amount: Decimal | None = Field(None, gt=0, max_digits=12, decimal_places=2,
                                   description="Reais; default: the whole payment")
    system: str | None = _SYSTEM


class IssueServiceInvoiceParams(Params):
    invoice_id: str = Field(max_length=36)
    system: str | None = _SYSTEM


# action -> which settings name its default system, in order of preference
DEFAULT_SYSTEMS: dict[str, tuple[str, ...]] = {
    "sync_customer": ("payments", "erp"),
    "sync_invoice": ("payments", "erp"),
    "cancel_invoice": ("payments", "erp"),
    "refund_payment": ("payments",),
    "sync_payment": ("erp",),
    "issue_service_invoice": ("erp", "payments"),
}
_DONE = ("external_id", "status")
INVOICE_OUTPUTS = ("external_id", "status", "invoice_url", "pix_payload", "pix_qr_code", "boleto_line",
                   "due_date")


def _spec(name: str, params: type[Params], description: str, outputs: tuple[str, ...]) -> ActionSpec:
    return ActionSpec(name, params, description, outputs=outputs)


class AccountingConnector(Connector):
    name = "accounting"
    settings_model = AccountingSettings
    settings: AccountingSettings
    actions: ClassVar[dict[str, ActionSpec]] = {
        "sync_customer": _spec("sync_customer", SyncCustomerParams,
                               "Create or update the customer (CPF/CNPJ required)", _DONE),
        "sync_invoice": _spec("sync_invoice", SyncInvoiceParams,
                              "Charge (payment provider) or receivable (ERP) for the invoice; PIX and boleto "
                              "codes in the outputs", INVOICE_OUTPUTS),
        "cancel_invoice": _spec("cancel_invoice", CancelInvoiceParams,
                                "Cancel the invoice's charge/receivable", _DONE),
        "sync_payment": _spec("sync_payment", SyncPaymentParams,
                              "Settle the receivable with the payment (ERP)", _DONE),
        "refund_payment": _spec("refund_payment", RefundPaymentParams,
                                "Refund a payment, wholly or partly (payment provider)", _DONE),
        "issue_service_invoice": _spec(
            "issue_service_invoice", IssueServiceInvoiceParams,
            "Issue the NFS-e through the ERP or payment provider (never city hall)", _DONE),
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sync: Sync | None = None
        self._lock = threading.Lock()

    def system_for(self, action: str, asked: str | None) -> str:
        """The system the rule named, else the configured default for the action."""
        if asked:
            return asked
        for setting in DEFAULT_SYSTEMS[action]:
            configured = getattr(self.settings, setting)
            if configured:
                return str(configured)
        names = " or ".join(f"connectors.accounting.{s}" for s in DEFAULT_SYSTEMS[action])
        raise PermanentError(f"accounting.{action}: no system given and none configured: set {names} "
                             "(or the action's system param)", code="not_configured")

    def sync(self) -> Sync:
        from connectors.accounting.sync import Sync

        if self.runtime.session is None:
            raise PermanentError("accounting actions need the database", code="no_database")
        with self._lock:
            if self._sync is None:
                self._sync = Sync(self.settings, self.runtime.session, redis_url=self.runtime.redis_url,
                                  secrets=self.runtime.secrets, namespace=self.runtime.namespace)
            return self._sync

    def check(self) -> dict[str, Any]:
        if self.settings.transport == "file":
            return super().check()
        systems = [s for s in (self.settings.payments, self.settings.erp) if s]
        if not systems:
            raise PermanentError("set connectors.accounting.payments or .erp", code="not_configured")
        found = {system: self.sync().adapter(system).check() for system in systems}
        return {"target": ", ".join(systems), "detail": str(found)[:300]}

    def plan(self, action: str, params: Params, message: dict[str, str] | None) -> dict[str, Any]:
        system = self.system_for(action, getattr(params, "system", None)) \
            if self.settings.transport == "live" else "file"
        return {"system": system, "params": params.model_dump(mode="json")}

    def execute(self, call: ActionCall) -> dict[str, Any]:
        if self.settings.transport == "file":
            return write_to_outbox(self, call)
        return self._live(call)

    def _live(self, call: ActionCall) -> dict[str, Any]:
        from connectors.accounting.sync import Origin

        params = call.params
        system = self.system_for(call.action, getattr(params, "system", None))
        origin = Origin(key=call.idempotency_key, rule_id=call.rule_id, step_id=call.step_id)
        sync = self.sync()
        if isinstance(params, SyncCustomerParams):
            return sync.sync_customer(params.customer_id, system, origin)
        if isinstance(params, SyncInvoiceParams):
            return sync.sync_invoice(params.invoice_id, system, origin)
        if isinstance(params, CancelInvoiceParams):
            return sync.cancel_invoice(params.invoice_id, system, origin)
        if isinstance(params, SyncPaymentParams):
            return sync.sync_payment(params.payment_id, system, origin)
        if isinstance(params, RefundPaymentParams):
            return sync.refund_payment(params.payment_id, params.amount, system, origin)
        assert isinstance(params, IssueServiceInvoiceParams)
        return sync.issue_service_invoice(params.invoice_id, system, origin)
