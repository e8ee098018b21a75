"""Accounting systems: invoices and payments pushed to the company's books."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field

from connectors.base import ActionSpec, Connector, Params


class SyncInvoiceParams(Params):
    invoice_id: str
    system: str | None = Field(None, description="Accounting system name; default: the configured one")


class SyncPaymentParams(Params):
    payment_id: str
    system: str | None = Field(None, description="Accounting system name; default: the configured one")


class AccountingConnector(Connector):
    name = "accounting"
    actions: ClassVar[dict[str, ActionSpec]] = {
        "sync_invoice": ActionSpec("sync_invoice", SyncInvoiceParams,
                                   "Create or update the invoice in the accounting system",
                                   outputs=("external_id",)),
        "sync_payment": ActionSpec("sync_payment", SyncPaymentParams,
                                   "Record the payment in the accounting system",
                                   outputs=("external_id",)),
    }
