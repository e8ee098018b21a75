"""What every command shares: the consoles, the exit codes, failing, the settings, the database.

Cheap to import on purpose: ``despacho --help`` loads this module and every command group, so
the engine, the store and SQLAlchemy are imported inside the functions that need them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console

from commands.output import print_problems, problems_summary
from errors import DespachoError

if TYPE_CHECKING:
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import Session

    from engine.settings import Settings

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
FormatFlag = Annotated[str, typer.Option("--format", help="text or json")]

console = Console(highlight=False, soft_wrap=True)
stderr = Console(stderr=True, highlight=False, soft_wrap=True)


def fail(message: str, code: int) -> NoReturn:
    """Print MESSAGE (personal data masked) on stderr; exit with CODE (``EXIT_PROBLEMS``, ``EXIT_USAGE``)."""
    from personal_data import mask_text

    stderr.print(mask_text(message))
    raise typer.Exit(code)


def settings_from(ctx: typer.Context) -> Settings:
    """The settings for this invocation (``--config``, ``DESPACHO_CONFIG``...); exit 2 when invalid."""
    from engine.errors import ConfigError
    from engine.settings import load_settings

    root = ctx.find_root()
    config = root.obj.get("config") if isinstance(root.obj, dict) else None
    try:
        settings = load_settings(config)
    except ConfigError as exc:
        print_problems(stderr, exc.problems)
        fail(f"invalid configuration: {problems_summary(exc.problems)}", EXIT_USAGE)
    _config_read.append(config_in_use(settings))
    return settings


# The config file this invocation read: a CLI process runs one command, and the errors that name
# it (a missing database) arise deep inside helpers that are handed a URL.
_config_read: list[str] = []


def config_in_use(settings: Settings | None = None) -> str:
    """The config file of ``settings`` (default: those this invocation read), or that defaults apply."""
    if settings is None:
        return _config_read[-1] if _config_read else "(unknown)"
    return str(settings.config_file) if settings.config_file else "(no config file found: defaults)"


def where(url: str) -> str:
    """Which config and database a command used, for its errors: the usual surprise is running it
    from another folder, where a relative ``sqlite:///var/despacho.db`` names another file."""
    return f"config: {config_in_use()}, database: {shown(url)}"


def wants_json(output: str) -> bool:
    """``--format`` given as text: ``json`` or ``text``, else a usage error."""
    if output not in ("text", "json"):
        fail(f"--format must be text or json, not '{output}'", EXIT_USAGE)
    return output == "json"


def shown(url: str) -> str:
    """A database URL fit to print: the password masked."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def database_problem(url: str, exc: SQLAlchemyError) -> str:
    """One line saying what went wrong with the database and where to look."""
    if getattr(exc, "statement", "") is None:  # failed while connecting, before any statement ran
        orig = getattr(exc, "orig", None) or exc
        return (f"cannot reach the database {shown(url)}: {str(orig).strip()}\n"
                f"(check database.url in the config, or DESPACHO_DATABASE__URL; {where(url)})")
    first = str(exc).splitlines()[0]
    return f"database error: {first} (is it migrated? run 'despacho db upgrade')"


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn the store's and the driver's failures into one line on stderr and exit 1."""
    from sqlalchemy.exc import SQLAlchemyError

    from store.errors import NoSuchDatabase

    try:
        yield
    except NoSuchDatabase as exc:
        fail(f"{where(url)} — {exc}", EXIT_PROBLEMS)
    except SQLAlchemyError as exc:
        fail(database_problem(url, exc), EXIT_PROBLEMS)
    except DespachoError as exc:
        fail(str(exc), EXIT_PROBLEMS)


@contextmanager
def open_session(url: str) -> Iterator[Session]:
    """A session on the database at URL, committed at the end; failures reported as above."""
    from store.db import make_engine, session_scope

    with database_errors(url):
        engine = make_engine(url)
        try:
            with session_scope(engine) as session:
                yield session
        finally:
            engine.dispose()
