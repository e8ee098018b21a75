"""The accounting connector's own schedules: polling systems without webhooks, and reconciliation.

Built-in jobs, not rules: they run on the scheduler's leader only (one daemon polls, however many
run), every ``conta_azul.poll_every`` (Conta Azul and Omie send no webhooks we use; Asaas does)
and every ``reconcile_every``. Their results are audit rows (``despacho sync list`` shows the
records; a poll's cursor and a reconciliation's mismatches are in the audit).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from engine.runtime.scheduler import BuiltinJob
from store.durations import parse_duration

if TYPE_CHECKING:
    from connectors.accounting import AccountingConnector

# how far back a scheduled reconciliation looks: receivables older than this are history
RECONCILE_WINDOW = timedelta(days=90)
POLLED = ("omie", "conta_azul")  # systems whose payments we poll for (no webhooks)


def accounting_jobs(connector: AccountingConnector | None) -> list[BuiltinJob]:
    if connector is None or connector.settings.transport != "live" or connector.runtime.session is None:
        return []
    settings = connector.settings
    systems = [s for s in (settings.payments, settings.erp) if s]
    poll_every = _seconds(settings.conta_azul.poll_every)
    jobs = [BuiltinJob(f"accounting-poll-{s}", poll_every, _poller(connector, s))
            for s in systems if s in POLLED]
    every = _seconds(settings.reconcile_every)
    jobs += [BuiltinJob(f"accounting-reconcile-{s}", every, _reconciler(connector, s)) for s in systems]
    return jobs


def _seconds(duration: str) -> float:
    return max(1.0, parse_duration(duration).total_seconds())


def _poller(connector: AccountingConnector, system: str) -> Callable[[], object]:
    def run() -> object:
        from connectors.accounting.pull import poll_payments

        assert connector.runtime.session is not None
        now = datetime.now(UTC)
        return poll_payments(connector.runtime.session, connector.sync().adapter(system), system, now)
    return run


def _reconciler(connector: AccountingConnector, system: str) -> Callable[[], object]:
    def run() -> object:
        from connectors.accounting.reconcile import reconcile

        assert connector.runtime.session is not None
        now = datetime.now(UTC)
        since = (now - RECONCILE_WINDOW).date()
        return reconcile(connector.runtime.session, connector.sync().adapter(system), since, system).to_dict()
    return run
