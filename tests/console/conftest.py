"""The console's tests run on both databases, with the demo company seeded."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from store.db import session_scope
from store.seed import seed_demo
from tests.store.conftest import at, engine, pg_migrated_url, session, sqlite_url

__all__ = ["at", "engine", "pg_migrated_url", "seeded", "session", "sqlite_url"]


@pytest.fixture
def seeded(engine: sa.Engine, at: datetime) -> sa.Engine:
    with session_scope(engine) as s:
        seed_demo(s, seed=3, at=at, customers=40, technicians=8, orders=500)
    return engine
