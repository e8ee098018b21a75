"""Schedules: APScheduler fires cron/every triggers; the event log keeps each fire unique.

Each fire is claimed by storing the event ``<rule>@<fire time>``; a second
daemon (or a second leader during a handover) finds the id taken and does
nothing. ``for_each`` rows become evaluations ``<rule>@<fire time>#<row>``.
After downtime, a trigger with ``misfire: once`` fires once for the latest
time it missed; ``skip`` waits for the next one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger

from engine.language.cron import cron_trigger
from engine.language.models import CronTrigger, EveryTrigger
from engine.language.ruleset import CompiledRule, RuleSet
from engine.runtime.scheduled import SCHEDULE_EVENT_TYPE, SCHEDULE_SOURCE
from store.durations import parse_duration
from store.models.events import Event as EventRow

log = structlog.get_logger("despacho.scheduler")

# Interval triggers count from a fixed origin so every daemon computes the same fire times.
_ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)


def aps_trigger(trigger: CronTrigger | EveryTrigger, timezone: str) -> BaseTrigger:
    zone = trigger.timezone or timezone
    if isinstance(trigger, CronTrigger):
        return cron_trigger(trigger.cron, zone)
    return IntervalTrigger(seconds=int(parse_duration(trigger.every).total_seconds()),
                           start_date=_ORIGIN, timezone=zone)


def latest_fire_time(trigger: BaseTrigger, now: datetime, since: datetime | None = None) -> datetime | None:
    """The last fire time at or before ``now`` (after ``since`` when given)."""
    start = since or now - timedelta(days=400)
    previous = None
    fire = trigger.get_next_fire_time(None, start)
    while fire is not None and fire <= now:
        previous = fire
        fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
    return previous


class Scheduler:
    """Fires the schedules of the current rule set through ``fire``."""

    def __init__(self, rules: Callable[[], RuleSet], fire: Callable[[CompiledRule, int, datetime], int],
                 is_leader: Callable[[], bool], timezone: str, db=None) -> None:
        self.rules = rules
        self.fire = fire
        self.is_leader = is_leader
        self.timezone = timezone
        self.db = db
        self._aps = BackgroundScheduler(timezone=timezone)

    def start(self) -> None:
        self._aps.start()
        self.reschedule()
        self.catch_up(datetime.now(UTC))

    def stop(self) -> None:
        self._aps.shutdown(wait=True)

    def reschedule(self) -> None:
        """One APScheduler job per (rule, trigger) of the current rules (after a reload too)."""
        self._aps.remove_all_jobs()
        for rule in self.rules().rules:
            if not rule.rule.enabled:
                continue
            for index, trigger in enumerate(rule.schedules):
                self._aps.add_job(self._job, aps_trigger(trigger, self.timezone), args=[rule.id, index],
                                  id=f"{rule.id}#{index}", coalesce=True, max_instances=1,
                                  misfire_grace_time=None)

    def _job(self, rule_id: str, index: int) -> None:
        rule = self.rules().by_id.get(rule_id)
        if rule is None or not self.is_leader():
            return
        trigger = rule.schedules[index]
        now = datetime.now(UTC)
        fire_at = latest_fire_time(aps_trigger(trigger, self.timezone), now, now - timedelta(minutes=10))
        if fire_at is not None:
            self._fire(rule, index, fire_at)

    def _fire(self, rule: CompiledRule, index: int, fire_at: datetime) -> None:
        try:
            count = self.fire(rule, index, fire_at)
            log.info("schedule_fired", rule_id=rule.id, fire_at=fire_at.isoformat(), evaluations=count)
        except Exception:
            log.exception("schedule_failed", rule_id=rule.id, fire_at=fire_at.isoformat())

    def catch_up(self, now: datetime) -> None:
        """``misfire: once``: fire the latest time missed while no daemon was running."""
        if self.db is None or not self.is_leader():
            return
        for rule in self.rules().rules:
            for index, trigger in enumerate(rule.schedules):
                if trigger.misfire != "once" or not rule.rule.enabled:
                    continue
                last = self._last_fire(rule.id)
                if last is None:
                    continue  # never fired: a new rule starts with its next time
                missed = latest_fire_time(aps_trigger(trigger, self.timezone), now, last)
                if missed is not None and missed > last:
                    log.info("schedule_misfire_once", rule_id=rule.id, missed=missed.isoformat())
                    self._fire(rule, index, missed)

    def _last_fire(self, rule_id: str) -> datetime | None:
        with self.db.connect() as connection:
            return connection.execute(
                sa.select(sa.func.max(EventRow.occurred_at)).where(
                    EventRow.type == SCHEDULE_EVENT_TYPE, EventRow.source == SCHEDULE_SOURCE,
                    EventRow.id.like(f"{rule_id}@%"))
            ).scalar_one_or_none()
