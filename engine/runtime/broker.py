"""Dramatiq brokers: Redis in production, the in-process StubBroker when embedded.

Messages carry step ids (a small batch) and nothing else: the database rows
are the truth, the message is a wake-up call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

QUEUE = "despacho-steps"
STEP_ACTOR = "despacho_run_step"
EXHAUSTED_ACTOR = "despacho_step_exhausted"


def make_broker(url: str, *, namespace: str = "despacho") -> dramatiq.Broker:
    if url.startswith("stub://"):
        broker = StubBroker()
        broker.emit_after("process_boot")
        return broker
    if url.startswith(("redis://", "rediss://")):
        # A short heartbeat timeout brings a killed worker's messages back in seconds, not minutes.
        return RedisBroker(url=url, namespace=namespace, heartbeat_timeout=15_000,
                           dead_message_ttl=7 * 86_400_000)
    raise ValueError(f"unsupported broker URL '{url}': use stub:// or redis://host:port/db")


def declare_actors(broker: dramatiq.Broker, run_steps: Callable[[list[str]], Any],
                   exhausted: Callable[[str, str], Any]) -> dramatiq.Actor:
    """The step actor; unexpected errors are retried by Dramatiq, then handed to ``exhausted``.

    Connector failures never reach Dramatiq's retries: the executor records
    them and schedules the next attempt itself (per-action policy,
    Retry-After). Dramatiq retries what the executor could not record (a
    database outage); ``on_retry_exhausted`` (not ``on_failure``, which fires
    on every attempt) marks such a step dead.
    """

    def exhausted_actor(message_data: dict[str, Any], retry_info: dict[str, Any]) -> None:
        for step_id in message_data["args"][0]:
            exhausted(step_id, f"worker failed {retry_info.get('retries', '?')} times on this step")

    dramatiq.Actor(exhausted_actor, broker=broker, actor_name=EXHAUSTED_ACTOR, queue_name=QUEUE,
                   priority=0, options={"max_retries": 10})
    return dramatiq.Actor(
        run_steps, broker=broker, actor_name=STEP_ACTOR, queue_name=QUEUE, priority=0,
        options={"max_retries": 3, "min_backoff": 500, "max_backoff": 10_000,
                 "on_retry_exhausted": EXHAUSTED_ACTOR, "time_limit": 600_000},
    )
