"""Dramatiq brokers: Redis in production, the in-process StubBroker when embedded.

Messages carry step ids (a small batch) and nothing else: the database rows
are the truth, the message is a wake-up call. Dramatiq's own retries are off:
a step that could not be run or recorded keeps its row (``queued``, or
``running`` under a lease that lapses) and the reaper sends it again, so a
database or broker outage never turns into dead letters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

QUEUE = "despacho-steps"
STEP_ACTOR = "despacho_run_step"


def make_broker(url: str, *, namespace: str = "despacho") -> dramatiq.Broker:
    if url.startswith("stub://"):
        broker = StubBroker()
        broker.emit_after("process_boot")
        return broker
    if url.startswith(("redis://", "rediss://")):
        # A short heartbeat timeout brings a killed worker's messages back in seconds, not minutes
        # (the step leases bring its steps back sooner still).
        return RedisBroker(url=url, namespace=namespace, heartbeat_timeout=15_000,
                           dead_message_ttl=7 * 86_400_000)
    raise ValueError(f"unsupported broker URL '{url}': use stub:// or redis://host:port/db")


class StepSender:
    """Puts step ids on the queue by actor name: a producer needs no actor of its own."""

    def __init__(self, broker: dramatiq.Broker) -> None:
        self.broker = broker
        broker.declare_queue(QUEUE)

    def __call__(self, step_ids: list[str], delay_ms: int) -> None:
        message = dramatiq.Message(queue_name=QUEUE, actor_name=STEP_ACTOR, args=(step_ids,), kwargs={},
                                   options={})
        self.broker.enqueue(message, delay=delay_ms or None)


def declare_step_actor(broker: dramatiq.Broker, run_steps: Callable[[list[str]], Any]) -> dramatiq.Actor:
    def run(step_ids: list[str]) -> None:  # Dramatiq warns about actors returning values
        run_steps(step_ids)

    return dramatiq.Actor(run, broker=broker, actor_name=STEP_ACTOR, queue_name=QUEUE, priority=0,
                          options={"max_retries": 0, "time_limit": 600_000})
