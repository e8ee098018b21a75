"""The daemon: relay, reaper, rule reloads, schedules and workers in one process.

``despacho run`` starts everything (the embedded default); ``despacho worker``
and ``despacho scheduler`` start parts of it for production. SIGHUP reloads
the rules (a bad rule set is logged and the previous one stays); SIGTERM and
Ctrl-C stop it cleanly: in-flight steps finish or are requeued from the
database by the next start.
"""

from __future__ import annotations

import gc
import signal
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol

import redis
import structlog

from engine.language.events import Event
from engine.runtime.accounting_jobs import accounting_jobs
from engine.runtime.compose import Core, build_core
from engine.runtime.infra import is_infrastructure_error
from engine.runtime.intake import accept_events
from engine.runtime.leader import AlwaysLeader, RedisLeader
from engine.runtime.relay import RELAY_BATCH
from engine.runtime.rollout import RuleRollout
from engine.runtime.rulestate import ReloadResult
from engine.runtime.scheduler import BuiltinJob, Scheduler
from engine.runtime.wakeups import EventWakeups
from engine.runtime.workers import Workers
from engine.settings import Settings
from store.audit import record_action

log = structlog.get_logger("despacho.daemon")


def settle_heap() -> None:
    """Leave what start-up built (modules, the rule set, connectors) out of later full collections.

    A full collection walks every object the collector tracks: about 180,000 once the engine is
    loaded, over 100 ms with every thread stopped, every few seconds of a busy pipeline (a tenth
    of the embedded throughput). Frozen, start-up's objects are skipped; garbage made later is
    collected as before. Start-up's own garbage is collected first, so none of it is kept.
    """
    gc.collect()
    gc.freeze()


class Component(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass(frozen=True)
class Parts:
    relay: bool = True
    workers: bool = True
    scheduler: bool = True
    watch_rules: bool = True


class Daemon:
    def __init__(self, settings: Settings, parts: Parts = Parts(), extras: list[Component] | None = None,
                 core: Core | None = None) -> None:
        self.settings = settings
        self.parts = parts
        self.namespace = settings.broker.namespace
        self.stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self.core = core or build_core(settings, consume=parts.workers)
        self.rules = self.core.rules
        execution = settings.execution
        self.workers = (Workers(self.core.broker, execution.worker_threads)
                        if parts.workers and self.core.broker is not None else None)
        self.embedded = settings.broker.url.startswith("stub://")
        self.leader = self._leader() if parts.scheduler else None
        self.scheduler = (Scheduler(self.rules, self.core.relay.fire_schedule, self.leader.is_leader,
                                    settings.timezone, self.core.db, jobs=self._builtin_jobs())
                          if self.leader else None)
        self.wakeups = (EventWakeups(settings.database.url, self.core.relay_wakeup)
                        if parts.relay and self.core.db.dialect.name == "postgresql" else None)
        # started after the daemon, stopped before it (the API of ``despacho run``)
        self.extras: list[Component] = list(extras or [])
        # several daemons share a database only with a shared broker: then a new rule set goes into
        # force once every live daemon has loaded it
        self.rollout = (RuleRollout(self.core.db, self.rules, ",".join(
            name for name, on in vars(parts).items() if on and name != "watch_rules"))
            if parts.watch_rules and not self.embedded else None)

    def _builtin_jobs(self) -> list[BuiltinJob]:
        """The built-in alerts; the connector checks the console's Status page shows (always); Google
        Calendar two-way sync (when it talks to Google); accounting polls and reconciliations; the backup
        repository's weekly check and the missing-backup watch (when backups go to restic); the daily
        retention purge."""
        from engine.runtime.checks import IntegrationChecks

        return [*self._alert_jobs(), IntegrationChecks(self.settings, self.core.db).job(),
                *self._calendar_jobs(), *self._accounting_jobs(), *self._backup_jobs(), *self._privacy_jobs()]

    def _privacy_jobs(self) -> list[BuiltinJob]:
        from engine.runtime.privacy_jobs import PrivacyJobs

        return PrivacyJobs(self.settings.privacy, self.core.db).jobs()

    def _calendar_jobs(self) -> list[BuiltinJob]:
        calendar = self.settings.connectors.calendar
        if calendar.transport != "google":
            return []
        from engine.runtime.calendar_jobs import CalendarJobs
        from engine.runtime.compose import connector_runtime

        runtime = connector_runtime(self.settings, self.core.db)
        return CalendarJobs(calendar, runtime, self.core.db, self.settings.api.public_url).jobs()

    def _alert_jobs(self) -> list[BuiltinJob]:
        from engine.runtime.ops_alerts import OpsAlerts

        return OpsAlerts(self.core.db).jobs()

    def _accounting_jobs(self) -> list[BuiltinJob]:
        from connectors.accounting import AccountingConnector

        connector = self.core.runner.connectors.get("accounting")
        return accounting_jobs(connector if isinstance(connector, AccountingConnector) else None)

    def _backup_jobs(self) -> list[BuiltinJob]:
        backup = self.settings.connectors.backup
        if backup.transport != "restic":
            return []
        from engine.runtime.backup_jobs import BackupJobs
        from engine.runtime.compose import connector_runtime

        return BackupJobs(backup, connector_runtime(self.settings, self.core.db), self.core.db).jobs()

    def _leader(self) -> AlwaysLeader | RedisLeader:
        shared = self.settings.broker.coordination()
        if self.embedded or shared is None:  # the settings refuse a shared broker without a Redis
            return AlwaysLeader()
        lease = self.settings.scheduler.leader_lease
        # a hung connection must not outlast the lease: the leader could not tell it lost the lock
        client = redis.Redis.from_url(shared, socket_timeout=lease / 3,
                                      socket_connect_timeout=lease / 3)
        return RedisLeader(client, key=f"{self.namespace}:scheduler:leader", lease_ms=round(lease * 1000))

    # --- life cycle -------------------------------------------------------------------------------

    def start(self) -> None:
        settle_heap()
        if self.workers:
            self.core.leases.start()
            if self.core.local is not None:
                self.core.local.start()
            self.workers.start()
        if self.embedded:
            # The in-memory queue of a previous run is gone: everything unfinished is ours again.
            self.core.reaper.recover()
        execution = self.settings.execution
        if self.parts.relay:
            if self.wakeups:
                self.wakeups.start()
            self._loop("relay", self._relay_pass, execution.poll_interval)
            self._loop("reaper", self.core.reaper.reap_once, execution.reap_interval)
        if self.parts.watch_rules:
            fingerprint = [self.rules.fingerprint()]
            self._loop("rules-watch", lambda: self._watch(fingerprint), 2.0)
        if self.leader and self.scheduler:
            self.leader.start()
            if isinstance(self.leader, RedisLeader):
                self.leader.tick()
            self.scheduler.start()
        for extra in self.extras:
            extra.start()
        state = self.rules.state()
        log.info("daemon_started", rules=len(self.rules()), broker=self.settings.broker.url.split("@")[-1],
                 parts=[name for name, on in vars(self.parts).items() if on], rules_version=state.version,
                 degraded=state.degraded)

    def _relay_pass(self) -> None:
        # A short batch means the queue was drained as of its claim: an event stored since then
        # woke the relay again (the wake-up is cleared before each pass), so no empty claim is
        # needed to find out; the poll covers a lost notification. Embedded, it may also mean the
        # threads had no more room: they set the wake-up once they have.
        self.core.relay_wakeup.clear()
        while not self.stopping.is_set() and self.core.relay.relay_once() >= RELAY_BATCH:
            pass

    def _watch(self, fingerprint: list[tuple[tuple[str, int, int], ...]]) -> None:
        self.rules.save_pending()  # an accepted set the database could not take yet
        current = self.rules.fingerprint()
        if current != fingerprint[0]:
            fingerprint[0] = current
            self.reload()
        elif self.rollout is not None:
            self._decided(self.rollout.tick())  # report, and put in force what everyone has loaded

    def reload(self) -> bool:
        """Load the rule files again; True when the new set is in force. With other daemons it goes
        into force once they all have loaded it (``rollout``): False until then."""
        if self.rollout is None:
            return self._decided(self.rules.reload())
        offered = self.rollout.offer()
        if not offered.ok:
            self.rollout.tick()  # the others learn that this daemon cannot load it
            refused = ReloadResult(False, len(self.rules()), list(offered.problems), offered.digest)
            return self._decided(refused)
        if self.rules.pending_digest is None:  # the files hold the set already in force
            self.rollout.tick()
            return True
        return self._decided(self.rollout.tick())

    def _decided(self, result: ReloadResult | None) -> bool:
        """Reschedule and audit a reload that went into force or was refused; None: still waiting."""
        if result is None:
            return False
        if result.ok and self.scheduler:
            self.scheduler.reschedule()
        with self.core.transaction() as tx:
            action = "rules.reload" if result.ok else "rules.reload_rejected"
            # the digest of the set in force: after a rejection, still the previous one
            state = self.rules.state()
            details = {"rules": result.rules, "problems": result.problems[:50], "digest": state.digest,
                       "version": state.version}
            record_action(tx.session, "daemon", action, entity_type="rules", details=details)
            if not result.ok:
                accept_events(tx.session, [self._rules_rejected(result)])
        return result.ok

    def _rules_rejected(self, result: ReloadResult) -> Event:
        """The built-in alert: one event per refused set, whichever daemon tells first (the id)."""
        state = self.rules.state()
        digest = result.digest or "unknown"
        daemon = self.rollout.id if self.rollout is not None else socket.gethostname()
        message = (f"rule set {digest[:12]} refused ({len(result.problems)} problems); "
                   f"{state.version} stays in force")
        return Event(type="ops.rules_rejected", id=f"ops.rules_rejected:{digest[:64]}", source="despacho",
                     at=datetime.now(UTC), data={"message": message, "digest": digest,
                                                 "running_version": state.version, "daemon": daemon,
                                                 "problems": [line[:500] for line in result.problems[:20]]})

    def _loop(self, name: str, step: Callable[[], object], interval: float) -> None:
        def run() -> None:
            failures = 0
            while not self.stopping.is_set():
                try:
                    step()
                    failures = 0
                except Exception as exc:  # a database hiccup must not end the loop: log, back off, go on
                    failures += 1
                    if is_infrastructure_error(exc):
                        log.warning("loop_waiting_for_infrastructure", loop=name, failures=failures,
                                    error=str(exc).splitlines()[0])
                    else:
                        log.exception("loop_error", loop=name, failures=failures)
                # After failures, wait longer (up to 5 s) instead of hammering a sick database, but
                # not so long that work waits long after it is back.
                wait = min(5.0, interval * 2 ** min(failures, 10)) if failures else interval
                if name == "relay" and not failures:
                    self.core.relay_wakeup.wait(wait)  # cleared by the next pass, before its claim
                else:
                    self.stopping.wait(wait)

        thread = threading.Thread(target=run, name=f"despacho-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        self.core.relay_wakeup.set()
        log.info("daemon_stopping")
        for extra in reversed(self.extras):
            extra.stop()
        if self.scheduler:
            self.scheduler.stop()
        if self.leader:
            self.leader.stop()
        if self.wakeups:
            self.wakeups.stop()
        for thread in self._threads:
            thread.join(timeout=5)
        if self.rollout is not None:
            try:
                self.rollout.leave()
            except Exception as exc:  # the database may be what is failing: the row then just ages out
                log.warning("rules_rollout_leave_failed", error=str(exc).splitlines()[0][:200])
        if self.workers:
            if self.core.local is not None:  # hands nothing more over, finishes what it took
                self.core.local.stop(self.settings.execution.shutdown_timeout)
            self.workers.stop(self.settings.execution.shutdown_timeout)
            self.core.leases.stop()
        self.core.close()
        log.info("daemon_stopped")

    def serve_forever(self) -> None:
        """Run until SIGTERM or Ctrl-C; SIGHUP reloads the rules."""
        requested = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: requested.set())
        signal.signal(signal.SIGINT, lambda *_: requested.set())
        signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=self.reload, daemon=True).start())
        self.start()
        try:
            while not requested.wait(0.5):
                pass
        finally:
            self.stop()
