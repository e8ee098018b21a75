"""The migrations build exactly the models' schema, both ways, on SQLite and PostgreSQL."""

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from store.db import make_engine
from store.errors import NoSuchDatabase
from store.migrate import current_revision, downgrade, head_revision, history_lines, upgrade
from store.models import ApiClient, ScheduleClaim, metadata


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


def expression_index_names(url: str, table: str) -> set[str]:
    """Every index of ``table``: SQLAlchemy's SQLite reflection leaves out expression indexes."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                rows = conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'index' "
                                            "AND tbl_name = :table"), {"table": table})
            else:
                rows = conn.execute(sa.text("SELECT indexname FROM pg_indexes WHERE tablename = :table"),
                                    {"table": table})
            return {row[0] for row in rows}
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
    (tmp_path / "empty.db").touch()  # an empty SQLite file is a database without tables
    assert current_revision(f"sqlite:///{tmp_path / 'empty.db'}") is None


def test_asking_the_revision_of_a_missing_database_creates_none(tmp_path: Path) -> None:
    with pytest.raises(NoSuchDatabase):
        current_revision(f"sqlite:///{tmp_path / 'missing.db'}")
    assert not (tmp_path / "missing.db").exists()


def test_history_lists_the_initial_revision() -> None:
    assert any("initial schema" in line for line in history_lines())


def seed_schedule_events(url: str) -> None:
    """Events as the scheduler stored its claims before 0004, and two a client forged."""
    engine = make_engine(url)
    sqlite = engine.dialect.name == "sqlite"

    def at(text: str) -> datetime:
        moment = datetime.fromisoformat(text).astimezone(UTC)
        return moment.replace(tzinfo=None) if sqlite else moment

    rows = [
        ("nightly@2026-11-30T02:00:00-03:00", at("2026-11-30T02:00:00-03:00")),
        ("nightly@2026-12-01T02:00:00-03:00", at("2026-12-01T02:00:00-03:00")),  # the latest genuine one
        ("scan@2026-12-01T09:00:00-03:00#inv-1", at("2026-12-01T09:00:00-03:00")),  # an evaluation
        ("nightly@2099-01-01T02:00:00-03:00", at("2099-01-01T02:00:00-03:00")),  # forged: far future
        ("nightly@2026-12-02T02:00:00-03:00", at("2026-12-02T09:00:00-03:00")),  # forged: time ≠ its id
    ]
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(
                "INSERT INTO events (id, type, source, occurred_at, recorded_at, payload) "
                "VALUES (:id, 'schedule', 'scheduler', :at, :at, '{}')"),
                [{"id": event_id, "at": moment} for event_id, moment in rows])
            connection.execute(sa.text(
                "INSERT INTO api_clients (id, name, key_prefix, key_hash, scopes, created_at) "
                "VALUES ('c1', 'ERP Omie', 'dc_1', 'h', '[]', :at), "
                "('c2', 'Scheduler', 'dc_2', 'h', '[]', :at)"),
                {"at": at("2026-12-01T00:00:00+00:00")})
    finally:
        engine.dispose()


def check_0004_seeds_claims_and_clients(url: str) -> None:
    upgrade(url, "0003")
    seed_schedule_events(url)
    upgrade(url)
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            claims = connection.execute(sa.select(ScheduleClaim.__table__.c.rule_id,
                                                  ScheduleClaim.__table__.c.fire_at)).all()
            clients = dict(connection.execute(sa.select(ApiClient.__table__.c.name,
                                                        ApiClient.__table__.c.event_source)).all())
            types = connection.execute(sa.select(ApiClient.__table__.c.event_types)).scalars().all()
    finally:
        engine.dispose()
    aware = [(rule, fire_at if fire_at.tzinfo else fire_at.replace(tzinfo=UTC)) for rule, fire_at in claims]
    assert aware == [("nightly", datetime(2026, 12, 1, 5, 0, tzinfo=UTC))]
    assert clients == {"ERP Omie": "erp-omie", "Scheduler": "api"}  # a reserved source falls back to 'api'
    assert types == [["*"], ["*"]]  # existing clients keep working; admins narrow them


def test_0004_seeds_each_rules_latest_genuine_fire_and_gives_clients_a_source_on_sqlite(
        tmp_path: Path) -> None:
    check_0004_seeds_claims_and_clients(f"sqlite:///{tmp_path / 'old.db'}")


def test_0004_seeds_each_rules_latest_genuine_fire_and_gives_clients_a_source_on_postgresql(
        pg_url: str) -> None:
    check_0004_seeds_claims_and_clients(pg_url)


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_0015_adds_the_indexes_that_find_a_persons_data(dialect: str, tmp_path: Path,
                                                        request: pytest.FixtureRequest) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}" if dialect == "sqlite" else request.getfixturevalue("pg_url")
    upgrade(url, "0014")
    assert "ix_events_payload_customer_id" not in expression_index_names(url, "events")
    upgrade(url)
    expected = {"ix_events_payload_customer_id", "ix_events_payload_from"}
    assert expected <= expression_index_names(url, "events")
    assert "ix_whatsapp_messages_notification_id" in index_names(url, "whatsapp_messages")
    assert "ix_accounting_sync_records_entity_id" in index_names(url, "accounting_sync_records")
    assert "ix_accounting_sync_audit_entity_id" in index_names(url, "accounting_sync_audit")
    downgrade(url, "0014")
    assert "ix_events_payload_from" not in expression_index_names(url, "events")
