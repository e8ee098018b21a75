"""The per-calendar rate limit, shared by workers through the real Redis."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis

from connectors.calendar.limiter import CalendarLimiter
from errors import TransientError

REDIS_URL = "redis://127.0.0.1:6379/12"  # a database of the calendar tests' own


@pytest.fixture
def namespace() -> Iterator[str]:
    prefix = f"test-calendar-{uuid.uuid4().hex[:12]}"
    yield prefix
    client = redis.Redis.from_url(REDIS_URL)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


def test_two_workers_share_one_calendars_budget(namespace: str) -> None:
    one = CalendarLimiter(2, REDIS_URL, namespace, max_wait=0)
    other = CalendarLimiter(2, REDIS_URL, namespace, max_wait=0)
    one.acquire("ana@example.com")
    other.acquire("ana@example.com")
    with pytest.raises(TransientError) as caught:
        one.acquire("ana@example.com")
    assert caught.value.retry_after is not None and caught.value.retry_after >= 1
    other.acquire("bia@example.com")  # another calendar has its own budget


def test_a_full_window_waits_briefly_instead_of_failing(namespace: str) -> None:
    waits: list[float] = []
    limiter = CalendarLimiter(1, REDIS_URL, namespace, sleep=waits.append, max_wait=5)
    limiter.acquire("ana@example.com")
    with pytest.raises(TransientError):  # the fake sleep does not let the window move on
        limiter.acquire("ana@example.com")
    assert waits and all(0 < wait <= 1.0 for wait in waits)


def test_without_redis_the_limit_is_kept_in_memory() -> None:
    limiter = CalendarLimiter(0.5, None, max_wait=0)
    limiter.acquire("ana@example.com")
    with pytest.raises(TransientError) as caught:
        limiter.acquire("ana@example.com")
    assert caught.value.retry_after is not None and caught.value.retry_after <= 2
