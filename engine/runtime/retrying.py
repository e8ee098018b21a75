"""When to try a failed step again: the action's retry policy, with jitter and Retry-After."""

from __future__ import annotations

import random
from datetime import timedelta

from engine.language.models import RetryPolicy
from store.durations import parse_duration

MAX_BACKOFF = timedelta(hours=1)


def backoff(policy: RetryPolicy, attempt: int, retry_after: float | None = None) -> timedelta:
    """The wait before attempt ``attempt + 1``; ``attempt`` counts from 1.

    Exponential doubles the base delay each attempt; jitter (±20%) keeps
    workers that failed together from retrying together. A provider's
    Retry-After is a floor, never shortened.
    """
    base = parse_duration(policy.delay)
    wait = base * (2 ** (attempt - 1)) if policy.backoff == "exponential" else base
    wait = min(wait, MAX_BACKOFF) * random.uniform(0.8, 1.2)
    if retry_after is not None:
        wait = max(wait, timedelta(seconds=retry_after))
    return wait
