"""Column types and defaults shared by every table: UTC timestamps, money, ids."""

from __future__ import annotations

import os
import threading
import uuid
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect

MONEY = sa.Numeric(12, 2)


class _RandomIds:
    """Version 4 UUIDs, as ``uuid.uuid4`` makes them, from one ``os.urandom`` read per 256 of them.

    ``uuid4`` reads the system's random source for every id, and each read lets go of the GIL:
    the relay, writing two ids per planned event, lost it to a worker thread twice per event and
    waited to get it back, which made it the embedded pipeline's bottleneck. The bytes come from
    the same source, so the ids are as unguessable.
    """

    _BATCH = 16 * 256

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pool = b""
        self._used = 0

    def uuid(self) -> uuid.UUID:
        with self._lock:
            if self._used >= len(self._pool):
                self._pool, self._used = os.urandom(self._BATCH), 0
            raw = self._pool[self._used:self._used + 16]
            self._used += 16
        return uuid.UUID(bytes=raw, version=4)


_IDS = _RandomIds()


def _forget_ids_in_child() -> None:
    global _IDS
    _IDS = _RandomIds()  # a forked child must not hand out its parent's next ids (nor wait on its lock)


os.register_at_fork(after_in_child=_forget_ids_in_child)


def random_uuid() -> uuid.UUID:
    """A random (version 4) UUID: ``uuid.uuid4()`` without a system call for each."""
    return _IDS.uuid()


def new_id() -> str:
    """String ids: friendly to the API and to event payloads, unguessable in URLs."""
    return str(_IDS.uuid())


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Timestamps stored in UTC and always returned tz-aware.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so the value is
    stored as naive UTC text and the zone is put back on the way out. Naive
    input is refused rather than guessed: a wrong guess shifts every SLA.
    """

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime) or value.tzinfo is None:
            raise ValueError(f"timestamp needs a time zone, got {value!r}")
        moment = value.astimezone(UTC)
        return moment.replace(tzinfo=None) if dialect.name == "sqlite" else moment

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)

