"""The accounting connector's built-in jobs: which exist.

That only the leader runs built-in jobs is tested in tests/engine/runtime/test_scheduler.py.
"""

from __future__ import annotations

from pathlib import Path

from connectors.accounting import AccountingConnector, AccountingSettings
from connectors.base import Runtime
from engine.runtime.accounting_jobs import accounting_jobs


def connector(settings: AccountingSettings) -> AccountingConnector:
    return AccountingConnector(settings, Runtime(outbox=Path("unused"), session=lambda: None))  # type: ignore


def test_a_live_erp_without_webhooks_is_polled_and_every_configured_system_reconciled() -> None:
    settings = AccountingSettings(transport="live", payments="asaas", erp="conta_azul", reconcile_every="6h")
    jobs = {job.name: job.every for job in accounting_jobs(connector(settings))}
    assert jobs == {"accounting-poll-conta_azul": 600.0,  # seconds
                    "accounting-reconcile-asaas": 6 * 3600.0,
                    "accounting-reconcile-conta_azul": 6 * 3600.0}


def test_the_file_transport_has_no_jobs() -> None:
    assert accounting_jobs(connector(AccountingSettings(erp="omie"))) == []
