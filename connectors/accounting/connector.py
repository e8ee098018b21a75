"""Accounting systems: invoices and payments pushed to the company's books."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from connectors.accounting.settings import AccountingSettings
from connectors.base import ActionCall, ActionSpec, Connector, Params
from connectors.recorded import write_to_outbox


class SyncInvoiceParams(Params):
    invoice_id: str
    system: str | None = Field(None, description="Accounting system name; default: the configured one")


class SyncPaymentParams(Params):
    payment_id: str
    system: str | None = Field(None, description="Accounting system name; default: the configured one")


class AccountingConnector(Connector):
    name = "accounting"
    settings_model = AccountingSettings
    actions: ClassVar[dict[str, ActionSpec]] = {
        "sync_invoice": ActionSpec("sync_invoice", SyncInvoiceParams,
                                   "Create or update the invoice in the accounting system",
                                   outputs=("external_id",)),
        "sync_payment": ActionSpec("sync_payment", SyncPaymentParams,
                                   "Record the payment in the accounting system",
                                   outputs=("external_id",)),
    }

    def execute(self, call: ActionCall) -> dict[str, Any]:
        return write_to_outbox(self, call)
