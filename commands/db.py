"""``despacho db ...``: migrate the database, show where it stands, seed a demo company."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Annotated, NoReturn

import sqlalchemy as sa
import typer
from alembic.util.exc import CommandError
from rich.console import Console
from sqlalchemy.engine import make_url

from commands import output as out
from errors import DespachoError
from store import migrate
from store.db import make_engine, session_scope
from store.seed import seed_demo

EXIT_PROBLEMS, EXIT_USAGE = 1, 2

db_app = typer.Typer(help="Database: migrations and demo data.", no_args_is_help=True)
console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)


def database_url(ctx: typer.Context) -> str:
    """The configured URL (``database.url``, or ``DESPACHO_DATABASE__URL``)."""
    return out.settings_or_exit(ctx).database.url


def shown(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _fail(message: str, code: int = EXIT_PROBLEMS) -> NoReturn:
    errors.print(message)
    raise typer.Exit(code)


@contextmanager
def reported_errors(url: str) -> Iterator[None]:
    """Turn the store's, alembic's and the driver's failures into one line and an exit code."""
    try:
        yield
    except CommandError as exc:
        _fail(f"migration error: {exc}", EXIT_USAGE)
    except sa.exc.OperationalError as exc:
        _fail(f"cannot reach the database {shown(url)}: {exc.orig}\n"
              "(check database.url in the config, or DESPACHO_DATABASE__URL)")
    except DespachoError as exc:
        _fail(str(exc))


@db_app.command()
def upgrade(ctx: typer.Context,
            revision: Annotated[str, typer.Argument(help="Target revision")] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    url = database_url(ctx)
    with reported_errors(url):
        migrate.upgrade(url, revision)
        console.print(f"{shown(url)}: at revision {migrate.current_revision(url) or '(none)'}")


@db_app.command()
def downgrade(ctx: typer.Context,
              revision: Annotated[str, typer.Argument(help="Target revision; 'base' empties it")]) -> None:
    """Undo migrations down to REVISION."""
    url = database_url(ctx)
    with reported_errors(url):
        migrate.downgrade(url, revision)
        console.print(f"{shown(url)}: at revision {migrate.current_revision(url) or '(none)'}")


@db_app.command()
def current(ctx: typer.Context) -> None:
    """Show the database's revision and whether migrations are pending (exit 1 if so)."""
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
    if not demo:
        _fail("nothing to seed: only demo data exists; use `despacho db seed --demo`", EXIT_USAGE)
    url = database_url(ctx)
    with reported_errors(url):
        if migrate.current_revision(url) != migrate.head_revision():
            _fail(f"{shown(url)} is not migrated to the newest revision; run `despacho db upgrade` first")
        engine = make_engine(url)
        try:
            with session_scope(engine) as session:
                counts = seed_demo(session, seed=random_seed,
                                   at=at.replace(tzinfo=at.tzinfo or UTC) if at else None,
                                   customers=customers, technicians=technicians, orders=orders)
        finally:
            engine.dispose()
    console.print(f"{shown(url)}: " + ", ".join(f"{count} {name}" for name, count in counts.items()))
