"""The shared brokers the runtime tests run on, each isolated for one test: Redis under a key
namespace of its own, RabbitMQ in a vhost of its own (with Redis for coordination)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from engine.settings import BrokerSettings
from tests.support.rabbitmq_server import rabbitmq_vhost
from tests.support.redis_server import shared_redis, unique_namespace

SHARED_BROKERS = ["redis", "rabbitmq"]


@contextmanager
def shared_broker(kind: str) -> Iterator[BrokerSettings]:
    """Broker settings for a test; the RabbitMQ vhost is deleted afterwards."""
    if kind == "redis":
        yield BrokerSettings(url=shared_redis(), namespace=unique_namespace())
        return
    with rabbitmq_vhost() as url:
        yield BrokerSettings(url=url, namespace=unique_namespace(), coordination_url=shared_redis())
