"""The daemon: relay, reaper, rule reloads, schedules and workers in one process.

``despacho run`` starts everything (the embedded default); ``despacho worker``
and ``despacho scheduler`` start parts of it for production. SIGHUP reloads
the rules (a bad rule set is logged and the previous one stays); SIGTERM and
Ctrl-C stop it cleanly: in-flight steps finish or are requeued from the
database by the next start.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

import redis
import structlog

from engine.runtime.assembly import build_pipeline
from engine.runtime.leader import AlwaysLeader, RedisLeader
from engine.runtime.pipeline import Pipeline, Timeouts
from engine.runtime.rulestate import RuleSetHolder
from engine.runtime.scheduler import Scheduler
from engine.runtime.workers import StepQueue, Workers
from engine.settings import Settings
from store.audit import record_action

log = structlog.get_logger("despacho.daemon")


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
    def __init__(self, settings: Settings, parts: Parts = Parts()) -> None:
        self.settings = settings
        self.parts = parts
        self.namespace = namespace = settings.broker.namespace
        self.stopping = threading.Event()
        self.extras: list[Component] = []  # started after the daemon, stopped before it (the API)
        self._threads: list[threading.Thread] = []
        self._wake = threading.Event()
        self.rules = RuleSetHolder(settings.rules.path, settings.templates.path)
        execution = settings.execution
        timeouts = Timeouts(running=timedelta(seconds=execution.running_timeout),
                            queued=timedelta(seconds=execution.queued_timeout))
        self.pipeline: Pipeline = build_pipeline(settings, self.rules, timeouts=timeouts)
        self.queue = StepQueue(self.pipeline, settings.broker.url, namespace)
        self.workers = Workers(self.queue, execution.worker_threads) if parts.workers else None
        self.embedded = settings.broker.url.startswith("stub://")
        self.leader = self._leader() if parts.scheduler else None
        self.scheduler = (Scheduler(self.rules, self.pipeline.fire_schedule, self.leader.is_leader,
                                    settings.timezone, self.pipeline.db) if parts.scheduler else None)

    def _leader(self) -> AlwaysLeader | RedisLeader:
        if self.embedded:
            return AlwaysLeader()
        client = redis.Redis.from_url(self.settings.broker.url)
        return RedisLeader(client, key=f"{self.namespace}:scheduler:leader")

    # --- life cycle -------------------------------------------------------------------------------

    def start(self) -> None:
        if self.workers:
            self.workers.start()
        if self.embedded:
            # The in-memory queue of a previous run is gone: everything unfinished is ours again.
            self.pipeline.recover()
        execution = self.settings.execution
        if self.parts.relay:
            self._loop("relay", self._relay_pass, execution.poll_interval)
            self._loop("reaper", self.pipeline.reap_once, execution.reap_interval)
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
        log.info("daemon_started", rules=len(self.rules()), broker=self.settings.broker.url.split("@")[-1],
                 parts=[name for name, on in vars(self.parts).items() if on])

    def wake(self) -> None:
        """Something was just accepted in this process: relay it without waiting for the poll."""
        self._wake.set()

    def _relay_pass(self) -> None:
        while not self.stopping.is_set() and self.pipeline.relay_once():
            pass

    def _watch(self, fingerprint: list) -> None:
        current = self.rules.fingerprint()
        if current != fingerprint[0]:
            fingerprint[0] = current
            self.reload()

    def reload(self) -> bool:
        result = self.rules.reload()
        if result.ok and self.scheduler:
            self.scheduler.reschedule()
        with self.pipeline.transaction() as session:
            action = "rules.reload" if result.ok else "rules.reload_rejected"
            details = {"rules": result.rules, "problems": result.problems[:50]}
            record_action(session, "daemon", action, entity_type="rules", details=details)
        return result.ok

    def _loop(self, name: str, step: Callable[[], object], interval: float) -> None:
        def run() -> None:
            failures = 0
            while not self.stopping.is_set():
                try:
                    step()
                    failures = 0
                except Exception:  # a database hiccup must not end the loop: log, back off, go on
                    failures += 1
                    log.exception("loop_error", loop=name, failures=failures)
                # After failures, wait longer (up to 30 s) instead of hammering a sick database.
                wait = min(30.0, interval * 2 ** min(failures, 10)) if failures else interval
                if name == "relay" and not failures:
                    self._wake.wait(wait)
                    self._wake.clear()
                else:
                    self.stopping.wait(wait)

        thread = threading.Thread(target=run, name=f"despacho-{name}", daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self) -> None:
        if self.stopping.is_set():
            return
        self.stopping.set()
        self._wake.set()
        log.info("daemon_stopping")
        for extra in reversed(self.extras):
            extra.stop()
        if self.scheduler:
            self.scheduler.stop()
        if self.leader:
            self.leader.stop()
        for thread in self._threads:
            thread.join(timeout=5)
        if self.workers:
            self.workers.stop(self.settings.execution.shutdown_timeout)
        self.pipeline.db.dispose()
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
