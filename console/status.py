"""The Status page's figures, as plain data (the template formats them).

Integrations: each connector's latest stored check (``engine.runtime.checks``), its error rate and
median latency over the last 24 hours, and the step counters of ``despacho status``. Queues: queued
and running steps (the rows are the truth), events waiting for the relay, open dead letters, held
runs. The scheduler leader (the Redis lock's holder, or this process when embedded), the last backup,
and the rule set in force (the running daemon's when this process has one, else what one would load).
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import redis
import sqlalchemy as sa
from sqlmodel import Session, col, select

from console.context import Console
from engine.runtime.rollout import DaemonView
from engine.runtime.rulehealth import rules_health
from engine.runtime.status import ConnectorCounters, read_status
from store.db import session_scope
from store.models import Backup
from store.models.console import IntegrationCheck
from store.types import utcnow

WINDOW = timedelta(hours=24)


@dataclass
class Integration:
    name: str
    ok: bool | None = None  # None: never checked
    checked_at: datetime | None = None
    latency_ms: float | None = None
    target: str = ""
    detail: str = ""
    error: str = ""
    checks: int = 0  # in the window
    error_rate: float | None = None  # failed checks / checks in the window
    median_latency_ms: float | None = None
    steps: ConnectorCounters = field(default_factory=ConnectorCounters)

    @property
    def step_error_rate(self) -> float | None:
        attempts = self.steps.completed + self.steps.failed
        return self.steps.failed / attempts if attempts else None


@dataclass
class RuleSetInForce:
    state: str  # ok | degraded | refused
    version: str | None
    rules: int
    loaded_at: datetime | None
    problems: list[str]
    source: str  # "daemon" (this process runs the rules) or "files" (what a daemon would load)


@dataclass
class Leader:
    mode: str  # embedded | redis | unknown
    holder: str | None = None
    expires_in_ms: int | None = None
    error: str = ""


@dataclass
class StatusPage:
    integrations: list[Integration]
    queued_steps: int
    running_steps: int
    undispatched_events: int
    open_dead_letters: int
    held_runs: int
    leader: Leader
    last_backup: Backup | None
    rules: RuleSetInForce
    daemons: list[DaemonView]  # each daemon's rules in force, and a newer set it waits for


def read_status_page(console: Console) -> StatusPage:
    with session_scope(console.engine) as session:
        current = read_status(session)
        integrations = _integrations(session, current.connectors)
        backup = session.exec(select(Backup).order_by(col(Backup.started_at).desc()).limit(1)).first()
        rules = _rules(console, session)
    return StatusPage(
        integrations=integrations,
        queued_steps=sum(c.queued for c in current.connectors.values()),
        running_steps=sum(c.running for c in current.connectors.values()),
        undispatched_events=current.undispatched_events, open_dead_letters=current.open_dead_letters,
        held_runs=current.held_runs, leader=read_leader(console.settings), last_backup=backup, rules=rules,
        daemons=current.daemons)


def _integrations(session: Session, counters: dict[str, ConnectorCounters]) -> list[Integration]:
    since = utcnow() - WINDOW
    rows = session.exec(select(IntegrationCheck).where(col(IntegrationCheck.checked_at) >= since)
                        .order_by(col(IntegrationCheck.checked_at).desc())).all()
    latest: dict[str, IntegrationCheck] = {}
    window: dict[str, list[IntegrationCheck]] = {}
    for row in rows:
        latest.setdefault(row.connector, row)
        window.setdefault(row.connector, []).append(row)
    for row in _latest_before(session, since, set(latest)):
        latest[row.connector] = row
    names = sorted(set(latest) | set(counters))
    found: list[Integration] = []
    for name in names:
        item = Integration(name, steps=counters.get(name, ConnectorCounters()))
        last = latest.get(name)
        if last is not None:
            item.ok, item.checked_at, item.latency_ms = last.ok, last.checked_at, last.latency_ms
            item.target, item.detail, item.error = last.target, last.detail, last.error
        recent = window.get(name, [])
        if recent:
            item.checks = len(recent)
            item.error_rate = sum(not r.ok for r in recent) / len(recent)
            item.median_latency_ms = statistics.median(r.latency_ms for r in recent)
        found.append(item)
    return found


def _latest_before(session: Session, since: datetime, known: set[str]) -> list[IntegrationCheck]:
    """Each connector's latest check older than the window, for connectors with none inside it."""
    checked_at = col(IntegrationCheck.checked_at)
    newest = (sa.select(col(IntegrationCheck.connector), sa.func.max(checked_at).label("at"))
              .where(checked_at < since).group_by(col(IntegrationCheck.connector)).subquery())
    statement = select(IntegrationCheck).join(
        newest, sa.and_(col(IntegrationCheck.connector) == newest.c.connector,
                        col(IntegrationCheck.checked_at) == newest.c.at))
    return [row for row in session.exec(statement).all() if row.connector not in known]


def _rules(console: Console, session: Session) -> RuleSetInForce:
    settings = console.settings
    if console.core is not None:
        state = console.core.rules.state()
        problems = ([f"{p.file}:{p.line}:{p.column}: {p.path}: {p.message}"
                     for p in state.reload_error.problems[:20]] if state.reload_error else [])
        return RuleSetInForce("degraded" if state.degraded else "ok", state.version, len(state.ruleset),
                              state.loaded_at, problems, "daemon")
    health = rules_health(session, settings.rules.path, settings.templates.path, settings.connectors.http)
    return RuleSetInForce(health.state, health.version, health.rules, health.accepted_at, health.problems,
                          "files")


def read_leader(settings: Any) -> Leader:
    url: str | None = settings.broker.coordination()
    if url is None:
        return Leader("embedded", "este processo (modo embutido: um só processo, sempre líder)")
    key = f"{settings.broker.namespace}:scheduler:leader"
    try:
        client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
        try:
            holder, ttl = client.get(key), client.pttl(key)
        finally:
            client.close()
    except redis.RedisError as exc:
        return Leader("unknown", error=f"Redis não respondeu ({exc.__class__.__name__})")
    if holder is None:
        return Leader("redis", None, None, "nenhum agendador lidera agora")
    text = holder.decode("utf-8", "replace") if isinstance(holder, bytes) else str(holder)
    return Leader("redis", text.rsplit(":", 1)[0] if text.count(":") >= 2 else text, int(ttl))
