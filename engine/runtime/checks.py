"""Connector checks: can each connector reach its provider? Nothing is sent.

One implementation for ``despacho check`` (printed), the console's "test connection" and its
periodic job (``IntegrationChecks``, a scheduler built-in that stores each result in
``integration_checks`` for the Status page: latency and error rate over time).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import col, delete

from errors import ConnectorError, PermanentError
from store.db import session_scope
from store.models.console import IntegrationCheck
from store.types import utcnow

if TYPE_CHECKING:
    from connectors.base import Connector
    from engine.runtime.scheduler import BuiltinJob
    from engine.settings import Settings

CHECK_EVERY_SECONDS = 300
KEEP_CHECKS = timedelta(days=7)


class Which(StrEnum):
    email = "email"
    sms = "sms"
    whatsapp = "whatsapp"
    calendar = "calendar"
    accounting = "accounting"
    all = "all"


@dataclass
class CheckResult:
    connector: str
    target: str
    ok: bool
    latency_ms: float
    detail: str = ""
    error: str = ""
    code: str = ""
    hint: str = ""
    connections: list[dict[str, Any]] | None = None  # calendar: one row per Google connection


def connectors_for(settings: Settings, which: Which, db: sa.Engine | None = None) -> list[Connector]:
    """The connectors to check; ``db`` (else one made from the settings) for the calendar's connections."""
    from connectors.base import Runtime
    from connectors.email import EmailConnector
    from connectors.sms import SmsConnector
    from connectors.whatsapp import WhatsAppConnector

    runtime = Runtime(outbox=settings.outbox.path, timezone=settings.timezone)
    every: list[Connector] = [EmailConnector(settings.connectors.email, runtime),
                              SmsConnector(settings.connectors.sms, runtime),
                              WhatsAppConnector(settings.connectors.whatsapp, runtime)]
    if which in (Which.calendar, Which.all):
        every.append(_calendar(settings, db))
    return [c for c in every if which is Which.all or c.name == which.value]


def run_checks(settings: Settings, which: Which, db: sa.Engine | None = None) -> list[CheckResult]:
    """Every check WHICH names; the accounting systems only when asked for or called live."""
    results = [run_check(c) for c in connectors_for(settings, which, db)]
    live = settings.connectors.accounting.transport == "live"
    if which is Which.accounting or (which is Which.all and live):
        results += accounting_checks(settings, db)
    return results


def broker_checks(settings: Settings) -> list[CheckResult]:
    """The broker answers (Redis or RabbitMQ), and with RabbitMQ its coordination Redis too."""
    from engine.runtime.broker_ping import ping

    broker = settings.broker
    if broker.url.startswith("stub://"):
        return [CheckResult("broker", "stub://", True, 0.0, detail="in-process broker (embedded)")]
    rows = [("broker", broker.url, "check broker.url (host, port, credentials, vhost) and that the "
                                   "broker runs")]
    coordination = broker.coordination()
    if coordination is not None and coordination != broker.url:
        rows.append(("coordination", coordination, "check broker.coordination_url and that Redis runs"))
    results = []
    for name, url, hint in rows:
        started = time.perf_counter()
        failure = ping(url)
        target = url.split("@")[-1]  # never the password
        results.append(CheckResult(name, target, failure is None, _ms(started), error=failure or "",
                                   code="unreachable" if failure else "", hint=hint if failure else ""))
    return results


def accounting_checks(settings: Settings, db: sa.Engine | None = None) -> list[CheckResult]:
    """One check per configured system (its adapter's ``check()``: credentials, no side effects)."""
    accounting = settings.connectors.accounting
    if accounting.transport == "file":
        hint = "transport: file writes to the outbox; set transport: live to call the systems"
        return [CheckResult("accounting", "file", True, 0.0, detail="writes to the outbox", hint=hint)]
    systems = [s for s in (accounting.payments, accounting.erp) if s]
    if not systems:
        hint = "set connectors.accounting.payments (asaas) or .erp (omie, conta_azul)"
        return [CheckResult("accounting", "-", False, 0.0, error="no system configured",
                            code="not_configured", hint=hint)]
    from connectors.accounting import AccountingConnector
    from engine.runtime.compose import connector_runtime
    from store.db import make_engine

    runtime = connector_runtime(settings, db or make_engine(settings.database.url))
    connector = AccountingConnector(accounting, runtime)
    return [_check_system(connector, system) for system in systems]


def _check_system(connector: Any, system: str) -> CheckResult:
    started = time.perf_counter()
    name = f"accounting.{system}"
    try:
        found = connector.sync().adapter(system).check()
    except ConnectorError as exc:
        code = exc.code if isinstance(exc, PermanentError) else "transient"
        return CheckResult(name, system, False, _ms(started), error=str(exc), code=code,
                           hint=f"check connectors.accounting.{system} (URL, credentials)")
    return CheckResult(name, str(found.get("target", system)), True, _ms(started),
                       detail=str(found.get("detail", "")))


def _calendar(settings: Settings, db: sa.Engine | None) -> Connector:
    """The calendar check reads the connections from the database and their tokens from the secrets."""
    from connectors.base import Runtime
    from connectors.calendar import CalendarConnector
    from engine.runtime.compose import connector_runtime
    from store.db import make_engine

    if settings.connectors.calendar.transport == "file":  # nothing to read: no database needed
        return CalendarConnector(settings.connectors.calendar, Runtime(outbox=settings.outbox.path))
    runtime = connector_runtime(settings, db or make_engine(settings.database.url))
    return CalendarConnector(settings.connectors.calendar, runtime)


def run_check(connector: Connector) -> CheckResult:
    started = time.perf_counter()
    try:
        found = connector.check()
    except ConnectorError as exc:
        code = exc.code if isinstance(exc, PermanentError) else "transient"
        return CheckResult(connector.name, _target(connector), False, _ms(started), error=str(exc),
                           code=code, hint=hint_for(connector, exc),
                           connections=getattr(exc, "connections", None))
    return CheckResult(connector.name, str(found.get("target", "")), True, _ms(started),
                       detail=str(found.get("detail", "")),
                       hint=_file_hint(connector) if connector.settings.transport == "file" else "",
                       connections=found.get("connections"))


def hint_for(connector: Connector, error: ConnectorError) -> str:
    """What to look at first, by the kind of failure."""
    section = f"connectors.{connector.name}"
    code = error.code if isinstance(error, PermanentError) else ""
    if code in ("smtp_535", "smtp_534", "smtp_530"):
        return f"check {section}.username and .password (SMTP_USERNAME / SMTP_PASSWORD)"
    if code == "smtp_tls_verify":
        return f"the certificate is not trusted: check {section}.host, or set {section}.ca_file"
    if code in ("smtp_no_starttls", "smtp_not_supported"):
        return f"check {section}.security and .port (starttls on 587, tls on 465)"
    if code == "not_configured":
        return f"set {section}.account_sid and .auth_token (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN)"
    if code == "20003":
        return f"Twilio refused the credentials: check {section}.account_sid and .auth_token"
    if code == "account_inactive":
        return "the Twilio account is not active: see Twilio's console"
    if code == "calendar_not_connected":
        return "connect an account: despacho calendar connect [--technician ID]"
    if code == "calendar_auth":
        return "reconnect the broken account: despacho calendar connect [--technician ID]"
    if connector.name == "calendar":
        return f"is {section}.api_url reachable from here (proxy, DNS, firewall)?"
    if connector.name == "email":
        return f"is {section}.host:port right and reachable from here (firewall, DNS)?"
    return f"is {section}.api_base_url reachable from here (proxy, DNS, firewall)?"


def _file_hint(connector: Connector) -> str:
    real = {"email": "smtp", "calendar": "google"}.get(connector.name, "twilio")
    return f"transport: file writes to the outbox; set transport: {real} to send"


def _target(connector: Connector) -> str:
    settings = connector.settings
    if settings.transport == "file":
        return "file"
    if connector.name == "email":
        return f"{settings.host}:{settings.port}"  # type: ignore[attr-defined]
    if connector.name == "calendar":
        return str(settings.api_url)  # type: ignore[attr-defined]
    return str(settings.api_base_url)  # type: ignore[attr-defined]


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


def store_results(db: sa.Engine, results: list[CheckResult]) -> None:
    """Keep RESULTS for the Status page; results older than ``KEEP_CHECKS`` are dropped."""
    with session_scope(db) as session:
        for r in results:
            error = r.error + (f" ({r.hint})" if r.hint and not r.ok else "")
            session.add(IntegrationCheck(connector=r.connector, ok=r.ok, latency_ms=r.latency_ms,
                                         target=r.target[:500], detail=r.detail[:2000], error=error[:2000],
                                         extra={"code": r.code} if r.code else {}))
        stale = col(IntegrationCheck.checked_at) < utcnow() - KEEP_CHECKS
        session.execute(delete(IntegrationCheck).where(stale))


class IntegrationChecks:
    """The periodic job: every connector checked, results stored (the leader only, like other built-ins)."""

    def __init__(self, settings: Settings, db: sa.Engine) -> None:
        self.settings, self.db = settings, db

    def run(self) -> list[CheckResult]:
        results = run_checks(self.settings, Which.all, self.db)
        store_results(self.db, results)
        return results

    def job(self) -> BuiltinJob:
        from engine.runtime.scheduler import BuiltinJob

        return BuiltinJob("integration-checks", CHECK_EVERY_SECONDS, self.run)
