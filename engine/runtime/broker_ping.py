"""Does a broker or coordination store answer? One short connection, nothing sent or read.

The readiness probe and ``despacho check`` both ask; each answer is an error class name (the
driver's message may hold the URL and its password) or None when the service answered.
"""

from __future__ import annotations

import pika
import pika.exceptions
import redis

TIMEOUT_S = 1.0


def ping(url: str) -> str | None:
    """None when the Redis or RabbitMQ at ``url`` answers, else the kind of failure."""
    if url.startswith(("amqp://", "amqps://")):
        return _ping_rabbitmq(url)
    return _ping_redis(url)


def _ping_redis(url: str) -> str | None:
    try:
        client = redis.Redis.from_url(url, socket_timeout=TIMEOUT_S, socket_connect_timeout=TIMEOUT_S)
        try:
            client.ping()
        finally:
            client.close()
    except redis.RedisError as exc:
        return exc.__class__.__name__
    return None


def _ping_rabbitmq(url: str) -> str | None:
    parameters = pika.URLParameters(url)
    parameters.socket_timeout = parameters.blocked_connection_timeout = TIMEOUT_S
    parameters.stack_timeout = 2 * TIMEOUT_S
    parameters.connection_attempts = 1
    try:
        connection = pika.BlockingConnection(parameters)
    except (pika.exceptions.AMQPError, OSError) as exc:  # refused, bad credentials, unknown vhost or host
        return str(exc.__class__.__name__)
    connection.close()
    return None
