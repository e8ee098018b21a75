"""The accounting connector's built-in jobs: which exist, and that only the leader runs them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from connectors.accounting import AccountingConnector, AccountingSettings
from connectors.base import Runtime
from engine.language.ruleset import RuleSet
from engine.runtime.accounting_jobs import accounting_jobs
from engine.runtime.scheduler import Job, Scheduler


def connector(settings: AccountingSettings) -> AccountingConnector:
    return AccountingConnector(settings, Runtime(outbox=Path("unused"), session=lambda: None))  # type: ignore


def scheduler_with(job: Job, is_leader: Callable[[], bool]) -> Scheduler:
    """No rules and no database: only the built-in job (a catch-up without a database does nothing)."""
    def no_rules() -> RuleSet:
        raise AssertionError("the built-in job path must not read the rules")

    return Scheduler(no_rules, lambda rule, index, at: 0, is_leader, "UTC", jobs=[job])


def test_a_live_erp_without_webhooks_is_polled_and_every_configured_system_reconciled() -> None:
    settings = AccountingSettings(transport="live", payments="asaas", erp="conta_azul", reconcile_every="6h")
    jobs = {job.name: job.every for job in accounting_jobs(connector(settings))}
    assert jobs == {"accounting-poll-conta_azul": timedelta(minutes=10),
                    "accounting-reconcile-asaas": timedelta(hours=6),
                    "accounting-reconcile-conta_azul": timedelta(hours=6)}


def test_the_file_transport_has_no_jobs() -> None:
    assert accounting_jobs(connector(AccountingSettings(erp="omie"))) == []


def test_a_builtin_job_runs_on_the_leader_only() -> None:
    ran: list[datetime] = []
    leading = [False]
    job = Job("probe", timedelta(minutes=1), ran.append)
    scheduler = scheduler_with(job, lambda: leading[0])
    scheduler._builtin(job)
    assert ran == []
    leading[0] = True
    scheduler._builtin(job)
    assert len(ran) == 1 and ran[0].tzinfo is UTC


def test_a_failing_builtin_job_is_logged_and_does_not_raise() -> None:
    def broken(now: datetime) -> None:
        raise RuntimeError("vendor down")

    job = Job("broken", timedelta(minutes=1), broken)
    scheduler = scheduler_with(job, lambda: True)
    scheduler._builtin(job)
