"""Dramatiq brokers: Redis or RabbitMQ in production, the in-process StubBroker when embedded.

Messages carry step ids (a small batch) and nothing else: the database rows
are the truth, the message is a wake-up call. Dramatiq's own retries are off:
a step that could not be run or recorded keeps its row (``queued``, or
``running`` under a lease that lapses) and the reaper sends it again, so a
database or broker outage never turns into dead letters.

RabbitMQ publishes with delivery confirms: ``enqueue`` returns once the broker holds
the message, and raises otherwise (the outbox then leaves the rows to the reaper).
Its queues live in the URL's vhost, which separates deployments as the key
namespace does on Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

QUEUE = "despacho-steps"
STEP_ACTOR = "despacho_run_step"
# Steps taken back from a dead worker go ahead of the backlog: they were due long ago.
RESUME_QUEUE = "despacho-steps-resumed"
RESUME_ACTOR = "despacho_resume_step"


def make_broker(url: str, *, namespace: str = "despacho") -> dramatiq.Broker:
    if url.startswith("stub://"):
        broker = StubBroker()
        broker.emit_after("process_boot")
        return broker
    if url.startswith(("redis://", "rediss://")):
        # A short heartbeat timeout brings a killed worker's messages back in seconds, not minutes
        # (the step leases bring its steps back sooner still).
        return RedisBroker(  # type: ignore[no-untyped-call]  # dramatiq leaves RedisBroker() unannotated
            url=url, namespace=namespace, heartbeat_timeout=15_000, dead_message_ttl=7 * 86_400_000)
    if url.startswith(("amqp://", "amqps://")):
        logging.getLogger("pika.adapters.blocking_connection").addFilter(_quiet_closing)
        # Without confirms a publish to a broker going down is lost silently; with them it raises.
        return RabbitmqBroker(url=url, confirm_delivery=True)
    raise ValueError(f"unsupported broker URL '{url.split('@')[-1]}': use stub://, redis://host:port/db "
                     "or amqp://user:password@host:5672/vhost")


def _quiet_closing(record: logging.LogRecord) -> bool:
    """Drops pika's error for closing a publisher connection that is already closed (dropped by
    RabbitMQ or by pika after an error): worker shutdowns logged one per thread, and it means nothing."""
    return "called on closed connection" not in record.getMessage()


class StepSender:
    """Puts step ids on the queue by actor name: a producer needs no actor of its own."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self.broker = broker
        broker.declare_queue(QUEUE)
        broker.declare_queue(RESUME_QUEUE)

    def __call__(self, step_ids: list[str], delay_ms: int, urgent: bool = False) -> None:
        queue, actor = (RESUME_QUEUE, RESUME_ACTOR) if urgent else (QUEUE, STEP_ACTOR)
        message: dramatiq.Message[Any] = dramatiq.Message(
            queue_name=queue, actor_name=actor, args=(step_ids,), kwargs={}, options={})
        self.broker.enqueue(message, delay=delay_ms or None)


def declare_step_actors(broker: dramatiq.Broker, run_steps: Callable[[list[str]], Any]) -> None:
    """The two actors running steps; a worker takes resumed steps first (lower number, higher priority)."""

    def run(step_ids: list[str]) -> None:  # Dramatiq warns about actors returning values
        run_steps(step_ids)

    options = {"max_retries": 0, "time_limit": 600_000}
    dramatiq.Actor(run, broker=broker, actor_name=RESUME_ACTOR, queue_name=RESUME_QUEUE, priority=0,
                   options=options)
    dramatiq.Actor(run, broker=broker, actor_name=STEP_ACTOR, queue_name=QUEUE, priority=10,
                   options=options)
