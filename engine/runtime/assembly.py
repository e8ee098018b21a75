"""Building a process's pipeline from its settings: database, rules, connectors, planner, executor."""

from __future__ import annotations

from functools import partial

import redis

from connectors.base import Connector, Runtime
from connectors.registry import CONNECTOR_CLASSES
from engine.language.templating import TemplateStore
from engine.runtime.executor import Executor
from engine.runtime.pipeline import Pipeline, Sender, Timeouts
from engine.runtime.planner import Planner
from engine.runtime.rulestate import RuleSetHolder
from engine.runtime.throttle import DatabaseThrottle, RedisThrottle, ThrottleCounter
from engine.settings import Settings
from store.db import make_engine, session_scope


def build_connectors(settings: Settings, runtime: Runtime) -> dict[str, Connector]:
    # Connectors without a config section (order, event) run on their defaults.
    return {cls.name: cls(getattr(settings.connectors, cls.name, None), runtime) for cls in CONNECTOR_CLASSES}


def throttle_counter(settings: Settings) -> ThrottleCounter:
    """Shared through Redis when the broker is Redis (several workers); in the database otherwise."""
    if settings.broker.url.startswith(("redis://", "rediss://")):
        return RedisThrottle(redis.Redis.from_url(settings.broker.url),
                             prefix=f"{settings.broker.namespace}:throttle:")
    return DatabaseThrottle()


def build_pipeline(settings: Settings, rules: RuleSetHolder | None = None, *, send: Sender | None = None,
                   timeouts: Timeouts | None = None) -> Pipeline:
    db = make_engine(settings.database.url)
    holder = rules or RuleSetHolder(settings.rules.path, settings.templates.path)
    runtime = Runtime(outbox=settings.outbox.path, session=partial(session_scope, db),
                      timezone=settings.timezone)
    config = settings.public_view()
    planner = Planner(config=config, throttle=throttle_counter(settings), timezone=settings.timezone)
    executor = Executor(rules=holder, connectors=build_connectors(settings, runtime),
                        templates=TemplateStore(settings.templates.path), config=config)
    return Pipeline(db, holder, planner, executor, send=send, timeouts=timeouts)


def producer_pipeline(settings: Settings) -> Pipeline:
    """A pipeline for a process without workers (the API): it sends to Redis when there is one;
    with the in-process broker, the daemon's reaper picks up what it queues."""
    pipeline = build_pipeline(settings)
    if not settings.broker.url.startswith("stub://"):
        from engine.runtime.workers import StepQueue

        StepQueue(pipeline, settings.broker.url, settings.broker.namespace)
    return pipeline
