"""Throttle counters: shared through Redis in production, counted in the database when embedded."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

import redis
import sqlalchemy as sa
from sqlmodel import Session, col

from store.models.runs import RuleRun
from store.run_lifecycle import RunStatus


class ThrottleCounter(Protocol):
    def allow(self, session: Session, rule_id: str, key: str, limit: int, per: timedelta,
              now: datetime) -> bool:
        """Count one more run for (rule, key); ``False`` when the limit is already reached."""


class DatabaseThrottle:
    """Counts the rule's runs with this key inside the window (embedded mode, one process)."""

    def allow(self, session: Session, rule_id: str, key: str, limit: int, per: timedelta,
              now: datetime) -> bool:
        count: int = session.execute(
            sa.select(sa.func.count()).select_from(RuleRun).where(
                col(RuleRun.rule_id) == rule_id, col(RuleRun.throttle_key) == key,
                col(RuleRun.created_at) >= now - per, col(RuleRun.status) != RunStatus.SKIPPED)
        ).scalar_one()
        return count < limit


class RedisThrottle:
    """A fixed window per (rule, key) in Redis: INCR is atomic across workers and machines."""

    def __init__(self, client: redis.Redis, prefix: str = "despacho:throttle:") -> None:
        self.client = client
        self.prefix = prefix

    def allow(self, session: Session, rule_id: str, key: str, limit: int, per: timedelta,
              now: datetime) -> bool:
        seconds = max(1, int(per.total_seconds()))
        window = int(now.timestamp()) // seconds
        name = f"{self.prefix}{rule_id}:{key}:{window}"
        pipe = self.client.pipeline()
        pipe.incr(name)
        pipe.expire(name, seconds + 60)
        count, _ = pipe.execute()
        return int(count) <= limit
