"""Schedules: APScheduler fires cron/every triggers; the claims table keeps each fire unique.

Each fire is claimed by a row ``(rule, fire time)`` in ``schedule_claims``
(``store.schedule_claims``); a second daemon (or a second leader during a
handover) finds it taken and does nothing. The event log plays no part: API
clients write events, and an event stored first must not cancel a fire.
``for_each`` rows become evaluations ``<rule>@<fire time>#<row>``.

After downtime, and after a failover (the times due between the old
leader's death and the new leader taking the lock), a trigger with
``misfire: once`` fires once for the latest time it missed since the rule's
last claimed fire; ``skip`` waits for the next one. A scheduler catches up
when it starts leading and whenever it leads again after having seen itself
not lead, before it fires anything else; catching up a fire the old leader
did make finds the claim taken and does nothing.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import structlog
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.exc import SQLAlchemyError

from engine.language.cron import cron_trigger
from engine.language.models import CronTrigger, EveryTrigger
from engine.language.ruleset import CompiledRule, RuleSet
from store.durations import parse_duration
from store.schedule_claims import last_fire

log = structlog.get_logger("despacho.scheduler")


# Interval triggers count from a fixed origin so every daemon computes the same fire times.
_ORIGIN = datetime(2000, 1, 3, tzinfo=UTC)
# How often a scheduler looks whether it leads (again), so a catch-up follows a takeover promptly.
LEADERSHIP_CHECK_SECONDS = 1.0


def aps_trigger(trigger: CronTrigger | EveryTrigger, timezone: str) -> BaseTrigger:
    zone = trigger.time_zone or timezone
    if isinstance(trigger, CronTrigger):
        return cron_trigger(trigger.cron, zone)
    return IntervalTrigger(seconds=int(parse_duration(trigger.every).total_seconds()),
                           start_date=_ORIGIN, timezone=zone)


def latest_fire_time(trigger: BaseTrigger, now: datetime, since: datetime | None = None) -> datetime | None:
    """The last fire time at or before ``now`` (not before ``since`` when given, else within 400 days).

    Looks back over growing spans (1 s, 8 s, 64 s, ...), so a frequent trigger
    missed for months costs a few steps, not one per missed fire.
    """
    floor = since or now - timedelta(days=400)
    span = timedelta(seconds=1)
    while True:
        start = max(floor, now - span)
        previous = None
        fire = trigger.get_next_fire_time(None, start)
        while fire is not None and fire <= now:
            previous = fire
            fire = trigger.get_next_fire_time(fire, fire + timedelta(microseconds=1))
        if previous is not None or start == floor:
            return previous
        span *= 8


@dataclass(frozen=True)
class BuiltinJob:
    """despacho's own periodic work (calendar sync, channel renewal): run by the leader only."""

    name: str
    every: float  # seconds
    run: Callable[[], object]


class Scheduler:
    """Fires the schedules of the current rule set through ``fire``, and the built-in ``jobs``."""

    def __init__(self, rules: Callable[[], RuleSet], fire: Callable[[CompiledRule, int, datetime], int],
                 is_leader: Callable[[], bool], timezone: str, db: sa.Engine | None = None,
                 jobs: Sequence[BuiltinJob] = ()) -> None:
        self.rules = rules
        self.fire = fire
        self.is_leader = is_leader
        self.timezone = timezone
        self.db = db
        self.jobs = tuple(jobs)
        self._aps = BackgroundScheduler(timezone=timezone)
        self._leading = threading.Lock()  # a catch-up finishes before anything else fires
        self._behind = True  # not caught up since we last saw ourselves not lead (or started)
        self._followed_at: datetime | None = None  # when we last saw ourselves not lead

    def start(self) -> None:
        self._aps.start()
        self.reschedule()
        self.leads()  # catches up at once when we lead from the start

    def stop(self) -> None:
        self._aps.shutdown(wait=True)

    def reschedule(self) -> None:
        """One APScheduler job per (rule, trigger) of the current rules (after a reload too)."""
        self._aps.remove_all_jobs()
        self._aps.add_job(self.leads, IntervalTrigger(seconds=LEADERSHIP_CHECK_SECONDS), id="leadership",
                          coalesce=True, max_instances=1)
        for job in self.jobs:
            self._aps.add_job(self._builtin, IntervalTrigger(seconds=job.every), args=[job],
                              id=f"builtin:{job.name}", coalesce=True, max_instances=1)
        for rule in self.rules().rules:
            if not rule.rule.enabled:
                continue
            for index, trigger in enumerate(rule.schedules):
                self._aps.add_job(self._job, aps_trigger(trigger, self.timezone), args=[rule.id, index],
                                  id=f"{rule.id}#{index}", coalesce=True, max_instances=1,
                                  misfire_grace_time=None)

    def leads(self) -> bool:
        """Whether we lead and have caught up; leading again after not leading, catch up first.

        Every fire time whose job ran while we did not lead is at or before
        ``_followed_at``; the ones after it are fired by their own jobs, so the
        catch-up looks no later than that. Until a catch-up could read the
        database, nothing else fires: a newer fire would hide the missed ones.
        (A rule whose own fire fails, its query say, is logged and does not
        hold back the others.)
        """
        with self._leading:
            if not self.is_leader():
                self._behind = True
                self._followed_at = datetime.now(UTC)
                return False
            if self._behind:
                try:
                    self.catch_up(self._followed_at or datetime.now(UTC))
                    self._behind = False
                except SQLAlchemyError:
                    log.exception("schedule_catch_up_failed")
            return not self._behind

    def _builtin(self, job: BuiltinJob) -> None:
        if not self.leads():
            return
        try:
            job.run()
        except Exception:  # one failed pass (Google down, the database away) must not stop the job
            log.exception("builtin_job_failed", job=job.name)

    def _job(self, rule_id: str, index: int) -> None:
        rule = self.rules().by_id.get(rule_id)
        if rule is None or not self.leads():
            return
        trigger = rule.schedules[index]
        now = datetime.now(UTC)
        fire_at = latest_fire_time(aps_trigger(trigger, self.timezone), now, now - timedelta(minutes=10))
        if fire_at is not None:
            self._fire(rule, index, fire_at)

    def _fire(self, rule: CompiledRule, index: int, fire_at: datetime) -> None:
        try:
            count = self.fire(rule, index, fire_at)
        except Exception:  # one rule's failed fire (its query, the database) must not stop the others
            log.exception("schedule_failed", rule_id=rule.id, fire_at=fire_at.isoformat())
            return
        log.info("schedule_fired", rule_id=rule.id, fire_at=fire_at.isoformat(), evaluations=count)

    def catch_up(self, until: datetime) -> None:
        """``misfire: once``: fire the latest time up to ``until`` after the rule's last claimed fire."""
        db = self.db
        if db is None or not self.is_leader():
            return
        for rule in self.rules().rules:
            if not rule.rule.enabled:
                continue
            for index, trigger in enumerate(rule.schedules):
                if trigger.misfire != "once":
                    continue
                last = self._last_fire(db, rule.id)
                if last is None:
                    continue  # never fired: a new rule starts with its next time
                missed = latest_fire_time(aps_trigger(trigger, self.timezone), until, last)
                if missed is not None and missed > last:
                    log.info("schedule_misfire_once", rule_id=rule.id, missed=missed.isoformat(),
                             last=last.isoformat())
                    self._fire(rule, index, missed)

    def _last_fire(self, db: sa.Engine, rule_id: str) -> datetime | None:
        with db.connect() as connection:
            return last_fire(connection, rule_id)
