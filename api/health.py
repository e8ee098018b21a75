"""Readiness: can this process serve? The database and the broker must answer, and with a
RabbitMQ broker its coordination Redis too (leader lease, throttles, rate limits).

Connectors are reported with their last check (cached for ``CONNECTOR_TTL``
seconds, since a check may open a network connection) but do not make the
API unready: a down SMS provider is a reason to retry sends, not to take the
API out of the load balancer.

Backups make the status ``degraded`` too (200) when the restic transport is configured and
the last backup failed, or none succeeded within ``connectors.backup.max_age_hours``: the
process serves, but the company would lose data with the next disk.

Rules that run degraded (the files on disk do not load; the last good set
runs) make the status ``degraded`` but keep the answer 200: the process
serves and runs rules, and taking every instance out of the load balancer
over a bad deploy of rule files would stop the events that still work.
"""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa

from connectors.registry import connector_class
from engine.runtime.broker_ping import ping
from engine.runtime.rulestate import ActiveRules
from errors import ConnectorError

CONNECTOR_TTL = 60.0
CONNECTOR_SECTIONS = ("email", "sms", "whatsapp", "calendar", "accounting", "backup", "http")


def check_database(engine: sa.Engine) -> dict[str, Any]:
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.SQLAlchemyError as exc:
        # the class name only: the driver's message may include the URL and user
        return {"status": "fail", "detail": exc.__class__.__name__}
    return {"status": "ok"}


def check_broker(url: str) -> dict[str, Any]:
    """The Redis or RabbitMQ broker answers; the embedded one always does."""
    if url.startswith("stub://"):
        return {"status": "ok", "detail": "in-process broker"}
    failure = ping(url)
    return {"status": "fail", "detail": failure} if failure else {"status": "ok"}


def check_rules(state: ActiveRules) -> dict[str, Any]:
    """The rule set in force: its version, and when degraded why (the problems of the files on disk)."""
    check: dict[str, Any] = {"status": "degraded" if state.degraded else "ok", "version": state.version,
                             "rules": len(state.ruleset), "loaded_at": state.loaded_at.isoformat()}
    if state.reload_error is not None:
        check["detail"] = ("started with the last accepted rule set: the rule files do not load"
                           if state.stored else "the rule files do not load: the previous rule set runs")
        check["problems"] = [f"{p.file}:{p.line}:{p.column}: {p.path}: {p.message}"
                             for p in state.reload_error.problems[:20]]
    if state.stored is not None:
        check["accepted_at"] = state.stored.accepted_at.isoformat()
    return check


def check_backup(engine: sa.Engine, settings: Any) -> dict[str, Any]:
    """``degraded`` when the last backup failed or none succeeded within ``max_age_hours``."""
    from sqlmodel import Session

    from connectors.backup.records import backup_health
    from store.types import utcnow

    try:
        with Session(engine) as session:
            health = backup_health(session)
    except sa.exc.SQLAlchemyError as exc:
        return {"status": "fail", "detail": exc.__class__.__name__}
    problem = health.problem(utcnow(), settings.max_age_hours)
    check: dict[str, Any] = {"status": "degraded" if problem else "ok",
                             "last_success_at": health.last_success_at.isoformat() if health.last_success_at
                             else None}
    if problem:
        check["detail"] = problem
    return check


class ReadinessChecks:
    def __init__(self, engine: sa.Engine, settings: Any) -> None:
        self.engine, self.settings = engine, settings
        self._connectors: tuple[float, dict[str, Any]] | None = None

    def run(self, connectors: bool = True) -> tuple[bool, dict[str, Any]]:
        """Ready or not, and the checks; ``connectors=False`` skips the connectors' (they open
        network connections, and readiness does not depend on them)."""
        database = check_database(self.engine)
        broker = check_broker(self.settings.broker.url)
        checks = {"database": database, "broker": broker}
        coordination = self.settings.broker.coordination()
        if coordination is not None and coordination != self.settings.broker.url:
            checks["coordination"] = check_broker(coordination)
        ready = all(check["status"] == "ok" for check in checks.values())  # backups, connectors: not these
        if database["status"] == "ok" and self.settings.connectors.backup.transport == "restic":
            checks["backup"] = check_backup(self.engine, self.settings.connectors.backup)
        if connectors:
            checks["connectors"] = self.connectors()
        return ready, checks

    def connectors(self) -> dict[str, Any]:
        if self._connectors is None or self._connectors[0] < time.monotonic():
            self._connectors = (time.monotonic() + CONNECTOR_TTL, self._check_connectors())
        return self._connectors[1]

    def _check_connectors(self) -> dict[str, Any]:
        results: dict[str, Any] = {}
        sections = self.settings.connectors
        for name in CONNECTOR_SECTIONS:
            settings = getattr(sections, name)
            cls = connector_class(name)
            checked_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            try:
                detail = cls(settings).check()
                results[name] = {"status": "ok", "transport": settings.transport, "checked_at": checked_at,
                                 "detail": str(detail.get("detail", ""))}
            except (ConnectorError, OSError) as exc:
                results[name] = {"status": "fail", "transport": settings.transport,
                                 "checked_at": checked_at, "detail": str(exc)}
        return results
