"""The migrations build exactly the models' schema, both ways, on SQLite and PostgreSQL."""

from pathlib import Path

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from store.db import make_engine
from store.migrate import current_revision, downgrade, head_revision, history_lines, upgrade
from store.models import metadata


def schema_diffs(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            return compare_metadata(context, metadata)
    finally:
        engine.dispose()


def table_names(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        return set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()


def index_names(url: str, table: str) -> set[str]:
    engine = make_engine(url)
    try:
        return {ix["name"] for ix in sa.inspect(engine).get_indexes(table)}
    finally:
        engine.dispose()


def check_round_trip(url: str) -> None:
    upgrade(url)
    assert current_revision(url) == head_revision()
    assert schema_diffs(url) == []
    downgrade(url, "base")
    assert current_revision(url) is None
    assert table_names(url) == {"alembic_version"}
    upgrade(url)
    assert schema_diffs(url) == []
    assert table_names(url) == set(metadata.tables) | {"alembic_version"}


def test_sqlite_migrations_match_the_models_and_round_trip(tmp_path: Path) -> None:
    check_round_trip(f"sqlite:///{tmp_path / 'fresh.db'}")


def test_postgresql_migrations_match_the_models_and_round_trip(pg_url: str) -> None:
    check_round_trip(pg_url)


def test_partial_indexes_exist_on_postgresql(pg_url: str) -> None:
    upgrade(pg_url)
    assert "ix_invoices_unpaid_due_date" in index_names(pg_url, "invoices")
    assert "ix_appointments_active_starts_at" in index_names(pg_url, "appointments")
    assert "ix_events_undispatched" in index_names(pg_url, "events")


def test_a_fresh_database_has_no_revision(tmp_path: Path) -> None:
    assert current_revision(f"sqlite:///{tmp_path / 'empty.db'}") is None


def test_history_lists_the_initial_revision() -> None:
    assert any("initial schema" in line for line in history_lines())
