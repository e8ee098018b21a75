"""The composition root: one function builds a process's runtime for every face.

``despacho run``, ``worker``, ``scheduler``, ``api`` and the uvicorn factory
all call ``build_core``; nothing is wired by assigning attributes after the
fact. The order follows the dependencies: database → rules → broker sender →
outbox → planner, connectors, leases → relay, runner, reaper → the step
actor, declared on the broker last because it calls the runner.
"""

from __future__ import annotations

import threading
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import timedelta
from functools import cache, partial
from typing import TYPE_CHECKING, Any

import dramatiq
import redis
import sqlalchemy as sa

from connectors.base import Connector, Runtime
from connectors.calendar import CalendarConnector
from connectors.registry import CONNECTOR_CLASSES
from engine.language.events import Event
from engine.runtime.broker import StepSender, declare_step_actors, make_broker
from engine.runtime.flags import FlagBook
from engine.runtime.intake import Accepted, accept_events
from engine.runtime.leases import Leases
from engine.runtime.local import EmbeddedSteps, LocalFirst, LocalSteps
from engine.runtime.outbox import Outbox, Sender, Transaction
from engine.runtime.planner import Planner
from engine.runtime.reaper import Reaper
from engine.runtime.relay import Relay
from engine.runtime.rulestate import RuleSetHolder
from engine.runtime.runner import StepRunner
from engine.runtime.throttle import DatabaseThrottle, RedisThrottle, ThrottleCounter
from engine.settings import Settings
from store.db import make_bookkeeping_engine, make_engine, session_scope

if TYPE_CHECKING:
    from connectors.backup.backups import BackupSources
    from store.secrets import SecretBox


@dataclass
class Core:
    """The stages of one process, built once; faces use these and nothing they build themselves."""

    settings: Settings
    db: sa.Engine
    rules: RuleSetHolder
    outbox: Outbox
    relay: Relay
    runner: StepRunner
    reaper: Reaper
    leases: Leases
    broker: dramatiq.Broker | None
    local: LocalSteps | None  # this process's own step threads (when it consumes from the broker)
    # set when something was stored in this process: a relay loop here plans it at once
    relay_wakeup: threading.Event = field(default_factory=threading.Event)

    def accept(self, events: list[Event]) -> list[Accepted]:
        with self.outbox.transaction() as tx:
            accepted = accept_events(tx.session, events)
        self.relay_wakeup.set()
        return accepted

    def transaction(self) -> AbstractContextManager[Transaction]:
        """A unit of work whose queued steps are sent after it commits (API routes, the CLI)."""
        return self.outbox.transaction()

    def delivery_failed(self, tx: Transaction, step_id: str, error_code: str, message: str) -> None:
        self.runner.delivery_failed(tx, step_id, error_code, message)

    def close(self) -> None:
        if self.broker is not None:
            self.broker.close()
        self.runner.close()
        self.outbox.close()
        self.db.dispose()
        if self.outbox.bookkeeping_db is not None:
            self.outbox.bookkeeping_db.dispose()


def build_connectors(settings: Settings, runtime: Runtime) -> dict[str, Connector]:
    # Connectors without a config section (order, event) run on their defaults. The calendar
    # connector is built first: order.assign_technician asks it who is busy (calendar: check).
    calendar = CalendarConnector(settings.connectors.calendar, runtime)
    runtime = replace(runtime, calendar_check=calendar.calendar_check)
    built: dict[str, Connector] = {calendar.name: calendar}
    for cls in CONNECTOR_CLASSES:
        if cls is not CalendarConnector:
            built[cls.name] = cls(getattr(settings.connectors, cls.name, None), runtime)
    return {cls.name: built[cls.name] for cls in CONNECTOR_CLASSES}


def connector_runtime(settings: Settings, db: sa.Engine) -> Runtime:
    """What every connector may use: the database, the outbox, the secrets store, the shared Redis."""
    shared = settings.broker.coordination()
    return Runtime(outbox=settings.outbox.path, session=partial(session_scope, db),
                   timezone=settings.timezone, secrets=cache(partial(_secret_box, settings)),
                   redis_url=shared, namespace=settings.broker.namespace,
                   backup_sources=backup_sources(settings), public_url=settings.api.public_url)


def backup_sources(settings: Settings, database_url: str | None = None) -> BackupSources:
    """What a backup copies: the configured database (or ``database_url``), rules, templates, config."""
    from connectors.backup.backups import BackupSources

    return BackupSources(database_url or settings.database.url, settings.rules.path, settings.templates.path,
                         settings.config_file)


def _secret_box(settings: Settings) -> SecretBox:
    from store.secrets import SecretBox, load_ring

    return SecretBox(load_ring(settings.secrets))


def throttle_counter(settings: Settings) -> ThrottleCounter:
    """Shared through the coordination Redis when there is one (several workers); else in the database."""
    shared = settings.broker.coordination()
    if shared is not None:
        return RedisThrottle(redis.Redis.from_url(shared),
                             prefix=f"{settings.broker.namespace}:throttle:")
    return DatabaseThrottle()


def build_core(settings: Settings, rules: RuleSetHolder | None = None, *, consume: bool = True,
               sender: Sender | None = None) -> Core:
    """Everything a process runs. ``consume``: this process runs steps (its broker gets the actor).

    A process that does not consume (the API alone) sends to a shared broker; with the
    embedded in-process broker it sends nothing and the daemon's reaper picks up what it
    queued. ``sender`` replaces the broker (tests drive steps by hand).
    """
    threads = settings.execution.worker_threads
    execution = settings.execution
    # Every worker thread, the relay, the reaper and the heartbeat may hold a connection at once:
    # a pool smaller than that opens and closes connections all day long.
    sqlite = settings.database.url.startswith("sqlite")
    pool: dict[str, Any] = {} if sqlite else {"pool_size": threads + 4}
    db = make_engine(settings.database.url, pre_ping=not consume, **pool)
    holder = rules or RuleSetHolder(settings.rules.path, settings.templates.path, settings.connectors.http,
                                    db=db)
    embedded = settings.broker.url.startswith("stub://")
    bookkeeping = make_bookkeeping_engine(settings.database.url, pool_size=threads) if consume else None
    leases = Leases(bookkeeping or db, timedelta(seconds=execution.lease),
                    timedelta(seconds=execution.heartbeat))
    relay_wakeup = threading.Event()
    broker = None
    local: LocalSteps | None = None
    if sender is None and (consume or not embedded):
        broker = make_broker(settings.broker.url, namespace=settings.broker.namespace)
        sender = StepSender(broker)
        # steps this process queued go to its own threads first (engine.runtime.local); the runner is
        # built below, with the outbox that sends to them
        if consume and embedded:
            local = EmbeddedSteps(lambda step_ids: runner.run_steps(step_ids),
                                  lambda claims: runner.run_claims(claims), threads, leases, relay_wakeup)
        elif consume:
            local = LocalSteps(lambda step_ids: runner.run_steps(step_ids), threads)
        if local is not None:
            sender = LocalFirst(local, sender)
    outbox = Outbox(db, sender, bookkeeping_db=bookkeeping)
    config = settings.public_view()
    planner = Planner(config=config, throttle=throttle_counter(settings), timezone=settings.timezone)
    runtime = connector_runtime(settings, db)
    runner = StepRunner(outbox, holder, build_connectors(settings, runtime), holder.templates, config, leases,
                        time_zone=settings.timezone, flags=FlagBook(db))
    if broker is not None and local is not None:
        declare_step_actors(broker, local.run_from_broker)
    relay = Relay(outbox, holder, planner, local if isinstance(local, EmbeddedSteps) else None)
    return Core(settings=settings, db=db, rules=holder, outbox=outbox, relay=relay, runner=runner,
                reaper=Reaper(outbox, timedelta(seconds=execution.queued_timeout)), leases=leases,
                broker=broker, local=local, relay_wakeup=relay_wakeup)
