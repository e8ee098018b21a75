"""Accounting and payments: Asaas (payments), Omie and Conta Azul (ERPs), and a CSV/XLSX export.

One interface (``adapter.AccountingAdapter``), one module per vendor; ``connector`` turns rule
actions into adapter calls, recording each exchange (``store.models.accounting``).
"""

from connectors.accounting.connector import AccountingConnector
from connectors.accounting.settings import AccountingSettings

__all__ = ["AccountingConnector", "AccountingSettings"]
