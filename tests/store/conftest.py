"""Fixtures: a migrated SQLite database per test, a throwaway PostgreSQL database per run."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from store.db import session_scope
from store.models import Customer, ServiceOrder, Technician
from tests.support.databases import emptied_engine, migrated_pg_database, sqlite_copy
from tests.support.postgres import throwaway_pg_database

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def at() -> datetime:
    """The moment the tests pretend it is."""
    return AT


@pytest.fixture
def sqlite_url(migrated_template: Path, tmp_path: Path) -> str:
    return sqlite_copy(migrated_template, tmp_path)


@pytest.fixture(scope="session")
def pg_migrated_url() -> Iterator[str]:
    """One migrated PostgreSQL database for the run; tests empty it after themselves."""
    with migrated_pg_database() as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    """Domain tests run on both databases despacho supports."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_migrated_url")
    with emptied_engine(url) as engine:
        yield engine


@pytest.fixture
def session(engine: sa.Engine) -> Iterator[Session]:
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def pg_url() -> Iterator[str]:
    """An empty PostgreSQL database, dropped afterwards; fails (never skips) when PG is down."""
    with throwaway_pg_database() as url:
        yield url


@pytest.fixture
def make_technician(engine: sa.Engine) -> Callable[..., Technician]:
    def make(**fields: Any) -> Technician:
        values = {"name": "João Lima", "phone": "+5511976543210", "region": "sp-zona-sul",
                  "skills": ["eletrica", "hidraulica"]}
        values.update(fields)
        with session_scope(engine) as s:
            technician = Technician(**values)
            s.add(technician)
        return technician
    return make


@pytest.fixture
def make_order(engine: sa.Engine, make_customer: Callable[..., Customer]) -> Callable[..., ServiceOrder]:
    def make(**fields: Any) -> ServiceOrder:
        values: dict[str, Any] = {"region": "sp-zona-sul", "required_skills": ["eletrica"],
                                  "scheduled_start": AT + timedelta(hours=2),
                                  "scheduled_end": AT + timedelta(hours=4), "amount": "250.00"}
        values.update(fields)
        if "customer_id" not in values:
            values["customer_id"] = make_customer().id
        with session_scope(engine) as s:
            order = ServiceOrder(**values)
            s.add(order)
        return order
    return make
