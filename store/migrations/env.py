"""Alembic environment: runs against the connection or URL that ``store.migrate`` hands in."""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlmodel.sql.sqltypes import AutoString

from store.db import make_engine
from store.models import metadata
from store.types import UTCDateTime

config = context.config


def render_item(kind: str, obj: Any, autogen_context: Any) -> str | bool:
    """Revisions use plain SQLAlchemy types, so they never break when our Python types move."""
    if kind == "type" and isinstance(obj, AutoString):
        return f"sa.String(length={obj.length})" if obj.length else "sa.String()"
    if kind == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def run_migrations(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=metadata,
        # SQLite cannot ALTER most things: batch mode copies the table instead
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def main() -> None:
    if context.is_offline_mode():
        context.configure(url=config.attributes["url"], target_metadata=metadata,
                          literal_binds=True, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    connection = config.attributes.get("connection")
    if connection is not None:
        run_migrations(connection)
        return
    # only `db upgrade` may create the database (store.migrate.upgrade)
    engine = make_engine(config.attributes["url"], create=config.attributes.get("create", False))
    try:
        with engine.connect() as connection:
            run_migrations(connection)
    finally:
        engine.dispose()


main()
