"""Telling infrastructure failures from an action's own failures.

The database or the broker being unreachable says nothing about the action:
a step caught by one stays ``queued`` (or ``running`` under a lease that
lapses) and resumes when the service is back. Dead letters are for the
action's own failures only.
"""

from __future__ import annotations

import dramatiq.errors
import redis.exceptions
import sqlalchemy.exc

_INFRASTRUCTURE = (
    sqlalchemy.exc.OperationalError,   # connection refused or lost, server shutting down, SQLite busy
    sqlalchemy.exc.InterfaceError,
    sqlalchemy.exc.DisconnectionError,
    sqlalchemy.exc.TimeoutError,       # no pooled connection in time
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
    dramatiq.errors.ConnectionError,   # the broker (Redis or RabbitMQ) refused or dropped a publish
)


def is_infrastructure_error(error: BaseException) -> bool:
    if isinstance(error, _INFRASTRUCTURE):
        return True
    return isinstance(error, sqlalchemy.exc.DBAPIError) and error.connection_invalidated
