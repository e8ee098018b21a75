"""Fixtures: a migrated SQLite database per test, a throwaway PostgreSQL database per run."""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlmodel import Session

from store.db import make_engine, session_scope
from store.migrate import upgrade
from store.models import Customer, ServiceOrder, Technician, metadata
from tests.support.postgres import throwaway_pg_database

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def at() -> datetime:
    """The moment the tests pretend it is."""
    return AT


@pytest.fixture
def sqlite_url(migrated_template: Path, tmp_path: Path) -> str:
    path = tmp_path / "despacho.db"
    shutil.copy(migrated_template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="session")
def pg_migrated_url() -> Iterator[str]:
    """One migrated PostgreSQL database for the run; tests empty it after themselves."""
    with throwaway_pg_database() as url:
        upgrade(url)
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Iterator[sa.Engine]:
    """Domain tests run on both databases despacho supports."""
    if request.param == "sqlite":
        engine = make_engine(request.getfixturevalue("sqlite_url"))
        yield engine
        engine.dispose()
        return
    engine = make_engine(request.getfixturevalue("pg_migrated_url"))
    try:
        yield engine
    finally:
        tables = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
        with engine.begin() as connection:
            connection.execute(sa.text(f"TRUNCATE {tables} CASCADE"))
        engine.dispose()


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
