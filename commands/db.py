"""``despacho db ...``: migrate the database, show where it stands, seed a demo company."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from commands.common import (
    EXIT_PROBLEMS,
    EXIT_USAGE,
    console,
    database_errors,
    fail,
    open_session,
    settings_from,
    shown,
    stderr,
)
from errors import DespachoError

if TYPE_CHECKING:
    from engine.settings import Settings

db_app = typer.Typer(help="Database: migrations and demo data.", no_args_is_help=True)


def database_url(ctx: typer.Context) -> str:
    """The configured URL (``database.url``, or ``DESPACHO_DATABASE__URL``)."""
    return settings_from(ctx).database.url


@contextmanager
def reported_errors(url: str) -> Iterator[None]:
    """Alembic's failures are usage errors (exit 2); the database's as for every command."""
    from alembic.util.exc import CommandError

    with database_errors(url):
        try:
            yield
        except CommandError as exc:
            fail(f"migration error: {exc}", EXIT_USAGE)


@db_app.command()
def upgrade(ctx: typer.Context,
            revision: Annotated[str, typer.Argument(help="Target revision")] = "head",
            backup: Annotated[bool, typer.Option(
                "--backup/--no-backup", help="Back up the database first when migrations are pending "
                                             "(connectors.backup)")] = True) -> None:
    """Apply migrations up to REVISION (default: the newest), after a backup of the database."""
    from alembic.util.exc import CommandError
    from sqlalchemy.exc import SQLAlchemyError

    from store import migrate

    settings = settings_from(ctx)
    url = settings.database.url
    snapshot_id = backup_before_upgrade(settings, revision) if backup else None
    with reported_errors(url):
        try:
            migrate.upgrade(url, revision)
        except (CommandError, SQLAlchemyError, DespachoError):
            if snapshot_id:
                stderr.print(f"the migration failed; the database as it was before is snapshot "
                             f"{snapshot_id}. To put it back:\n"
                             f"  despacho backup restore {snapshot_id} --force")
            raise
        console.print(f"{shown(url)}: at revision {migrate.current_revision(url) or '(none)'}")


def backup_before_upgrade(settings: Settings, revision: str) -> str | None:
    """The snapshot taken before migrating; None when there is nothing to save or nothing to do."""
    from commands.backup import backup_before
    from store import migrate
    from store.errors import NoSuchDatabase

    url = settings.database.url
    with reported_errors(url):
        try:
            current = migrate.current_revision(url)
        except NoSuchDatabase:
            return None  # a new database: nothing to save
        if current is None or (revision == "head" and current == migrate.head_revision()):
            return None
    return backup_before(settings, tag="pre-upgrade", doing="migrating",
                         skip_hint="despacho db upgrade --no-backup")


@db_app.command()
def downgrade(ctx: typer.Context,
              revision: Annotated[str, typer.Argument(help="Target revision; 'base' empties it")]) -> None:
    """Undo migrations down to REVISION."""
    from store import migrate

    url = database_url(ctx)
    with reported_errors(url):
        migrate.downgrade(url, revision)
        console.print(f"{shown(url)}: at revision {migrate.current_revision(url) or '(none)'}")


@db_app.command()
def current(ctx: typer.Context) -> None:
    """Show the database's revision and whether migrations are pending (exit 1 if so)."""
    from store import migrate

    url = database_url(ctx)
    with reported_errors(url):
        revision, head = migrate.current_revision(url), migrate.head_revision()
    state = "up to date" if revision == head else "migrations pending: run `despacho db upgrade`"
    console.print(f"{shown(url)}: revision {revision or '(none)'}, newest {head} ({state})")
    if revision != head:
        raise typer.Exit(EXIT_PROBLEMS)


@db_app.command()
def history() -> None:
    """List the migrations, newest first."""
    from store import migrate

    for line in migrate.history_lines():
        console.print(line)


@db_app.command()
def seed(
    ctx: typer.Context,
    demo: Annotated[bool, typer.Option("--demo", help="Fill in the demo company")] = False,
    random_seed: Annotated[int, typer.Option("--seed", help="Same seed, same company")] = 42,
    at: Annotated[datetime | None, typer.Option(
        "--at", help="The demo's 'now' (default: today 12:00 UTC)")] = None,
    customers: Annotated[int, typer.Option(min=1)] = 300,
    technicians: Annotated[int, typer.Option(min=1)] = 20,
    orders: Annotated[int, typer.Option(min=1)] = 3000,
) -> None:
    """Fill an empty, migrated database with demo data."""
    from store import migrate
    from store.seed import seed_demo

    if not demo:
        fail("nothing to seed: only demo data exists; use `despacho db seed --demo`", EXIT_USAGE)
    url = database_url(ctx)
    with reported_errors(url):
        if migrate.current_revision(url) != migrate.head_revision():
            fail(f"{shown(url)} is not migrated to the newest revision; run `despacho db upgrade` first",
                 EXIT_PROBLEMS)
    with open_session(url) as session:
        counts = seed_demo(session, seed=random_seed, at=at.replace(tzinfo=at.tzinfo or UTC) if at else None,
                           customers=customers, technicians=technicians, orders=orders)
    console.print(f"{shown(url)}: " + ", ".join(f"{count} {name}" for name, count in counts.items()))
