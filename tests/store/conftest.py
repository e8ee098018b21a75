"""Fixtures: a migrated SQLite database per test, a throwaway PostgreSQL database per run."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import sqlalchemy as sa
from sqlmodel import Session

from store.db import make_engine, session_scope
from store.migrate import upgrade
from store.models import Customer, ServiceOrder, Technician, metadata

PG_ADMIN_DSN = "host=127.0.0.1 port=5432 user=postgres dbname=postgres"
PG_START_HINT = (
    "PostgreSQL does not answer on 127.0.0.1:5432; start it with "
    "`pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start` "
    "(or `make services`)"
)
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
    name = f"despacho_test_{uuid.uuid4().hex[:12]}"
    url = create_pg_database(name)
    try:
        upgrade(url)
        yield url
    finally:
        drop_pg_database(name)


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


def create_pg_database(name: str) -> str:
    try:
        with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.OperationalError as exc:
        pytest.fail(f"{PG_START_HINT}\n({exc})")
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


def drop_pg_database(name: str) -> None:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=3) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    """An empty PostgreSQL database, dropped afterwards; fails (never skips) when PG is down."""
    name = f"despacho_test_{uuid.uuid4().hex[:12]}"
    url = create_pg_database(name)
    try:
        yield url
    finally:
        drop_pg_database(name)


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
