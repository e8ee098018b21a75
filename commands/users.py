"""``despacho user``: the web console's users (``create`` with a role; never a password in argv)."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from commands.common import EXIT_USAGE, console, fail, open_session, settings_from

CLI_ACTOR = "cli"
user_app = typer.Typer(help="Web console users (/console): create them with a role.", no_args_is_help=True)


class Role(StrEnum):
    admin = "admin"
    viewer = "viewer"


@user_app.command("create")
def create_user(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Login name: lower-case letters, digits, '_', '.', '-'")],
    role: Annotated[Role, typer.Option("--role", help="admin (configures) or viewer (looks)")],
    password_stdin: Annotated[bool, typer.Option(
        "--password-stdin", help="Read the password from the first line of stdin (for scripts)")] = False,
) -> None:
    """Create a console user; the password is asked twice (or read from stdin), stored as an argon2 hash."""
    from store.audit import record_action
    from store.console_users import create_user as create

    password = _password(password_stdin)
    settings = settings_from(ctx)
    with open_session(settings.database.url) as session:
        user = create(session, name, role.value, password)
        record_action(session, CLI_ACTOR, "console_user.create", entity_type="console_user",
                      entity_id=user.id,
                      details={"name": user.name, "role": user.role})
    console.print(f"created console user '{name}' ({role.value}); log in at /console/login")


def _password(from_stdin: bool) -> str:
    if from_stdin or not sys.stdin.isatty():
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            fail("no password on stdin (one line expected)", EXIT_USAGE)
        return line
    first = typer.prompt("Password", hide_input=True)
    if typer.prompt("Password (again)", hide_input=True) != first:
        fail("the two passwords differ", EXIT_USAGE)
    return str(first)


def register(app: typer.Typer) -> None:
    app.add_typer(user_app, name="user")
