"""Built-in alerts as events, so the company's rules tell people (email, SMS) like any other event.

Every ``check_every`` seconds the leading scheduler looks at what the database knows:

- ``ops.dead_letter_spike``: at least ``dead_letters`` steps failed for good in ``window``;
- ``ops.connector_failing``: at least ``connector_dead_letters`` of them were one action's;
- ``ops.relay_backlog``: the oldest event waiting to be planned is older than ``relay_backlog``;
- ``calendar.channel_expiring``: a Google push channel ends within ``channel_expiring`` and was
  not renewed (renewal runs ``renew_before`` ahead, so this means renewal keeps failing).

An alert's event id carries its kind, subject and the hour: one event per alert and hour at
most (a redelivered id is ignored), however often the check runs. Token refresh failures
(``calendar.auth_failed``) and missing backups are events of their own producers.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
import structlog
from sqlmodel import Session, col, func, select

from engine.language.events import Event
from engine.runtime.intake import accept_events
from engine.runtime.scheduler import BuiltinJob
from store.db import session_scope
from store.models import CalendarSyncState, DeadLetter
from store.queries.backlog import backlog_counts
from store.types import utcnow

log = structlog.get_logger("despacho.alerts")

SOURCE = "despacho"
ALERT_TYPES = ("ops.dead_letter_spike", "ops.connector_failing", "ops.relay_backlog",
               "calendar.channel_expiring")


@dataclass(frozen=True)
class AlertThresholds:
    window: timedelta = timedelta(minutes=15)
    dead_letters: int = 10
    connector_dead_letters: int = 5
    relay_backlog: timedelta = timedelta(minutes=2)
    channel_expiring: timedelta = timedelta(hours=12)
    check_every: float = 60.0


class OpsAlerts:
    def __init__(self, db: sa.Engine, thresholds: AlertThresholds | None = None) -> None:
        self.db = db
        self.thresholds = thresholds or AlertThresholds()

    def jobs(self) -> list[BuiltinJob]:
        return [BuiltinJob("ops-alerts", self.thresholds.check_every, self.check)]

    def check(self, now: datetime | None = None) -> list[Event]:
        """Record the alerts that hold now; returns the events (a repeat within the hour is ignored)."""
        now = now or utcnow()
        alerts = self._dead_letters(now) + self._relay(now) + self._channels(now)
        if alerts:
            with session_scope(self.db) as session:
                accept_events(session, alerts)
            for alert in alerts:
                log.warning("ops_alert", alert=alert.type, message=alert.data.get("message"))
        return alerts

    def _dead_letters(self, now: datetime) -> list[Event]:
        since = now - self.thresholds.window
        with Session(self.db) as session:
            # the partial index of open dead letters serves this (resolved ones are no alarm any more)
            recent = (col(DeadLetter.resolved_at).is_(None), col(DeadLetter.created_at) >= since)
            rows = session.exec(select(DeadLetter.action, func.count()).where(*recent)
                                .group_by(DeadLetter.action)).all()
        per_action = {str(action): int(count) for action, count in rows}
        total = sum(per_action.values())
        minutes = int(self.thresholds.window.total_seconds() // 60)
        alerts = []
        if total >= self.thresholds.dead_letters:
            alerts.append(_alert("ops.dead_letter_spike", "all", now, {
                "message": f"{total} steps failed for good in the last {minutes} minutes",
                "count": total, "window_minutes": minutes, "by_action": per_action}))
        for action, count in sorted(per_action.items()):
            if count >= self.thresholds.connector_dead_letters:
                alerts.append(_alert("ops.connector_failing", action, now, {
                    "message": f"{action}: {count} calls failed for good in the last {minutes} minutes",
                    "connector": action.split(".", 1)[0], "action": action, "count": count,
                    "window_minutes": minutes}))
        return alerts

    def _relay(self, now: datetime) -> list[Event]:
        counts = backlog_counts(self.db, now)
        limit = self.thresholds.relay_backlog.total_seconds()
        if counts.oldest_undispatched_seconds <= limit:
            return []
        age = round(counts.oldest_undispatched_seconds)
        return [_alert("ops.relay_backlog", "all", now, {
            "message": f"{counts.undispatched_events} events wait to be planned, the oldest for {age} s",
            "events": counts.undispatched_events, "oldest_seconds": age})]

    def _channels(self, now: datetime) -> list[Event]:
        horizon = now + self.thresholds.channel_expiring
        with Session(self.db) as session:
            states = session.exec(select(CalendarSyncState).where(
                col(CalendarSyncState.channel_id).is_not(None),
                col(CalendarSyncState.channel_expires_at) <= horizon)).all()
        return [_alert("calendar.channel_expiring", state.calendar_id, now, {
            "message": f"the Google push channel of {state.calendar_id} ends at "
                       f"{_iso(state.channel_expires_at)} and was not renewed",
            "calendar_id": state.calendar_id, "expires_at": _iso(state.channel_expires_at)})
            for state in states]


def _alert(kind: str, subject: str, now: datetime, data: dict[str, Any]) -> Event:
    hour = now.strftime("%Y-%m-%dT%H")
    return Event(type=kind, id=f"{kind}:{subject[:120]}:{hour}", source=SOURCE, at=now, data=data)


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
