"""``despacho calendar``: connect Google accounts, and see the sync conflicts."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Annotated, Any

import typer

from commands.common import (
    EXIT_PROBLEMS,
    EXIT_USAGE,
    FormatFlag,
    console,
    fail,
    open_session,
    settings_from,
    wants_json,
)
from commands.output import plain, print_json

if TYPE_CHECKING:
    from engine.settings import Settings

calendar_app = typer.Typer(help="Google Calendar: connect and disconnect accounts, see sync conflicts.",
                           no_args_is_help=True)

PROMPT = "Open this address in a browser and allow despacho to use the calendar:\n{url}"
DONE = "despacho is connected to this calendar. You can close this tab."


@calendar_app.command("connect")
def connect(
    ctx: typer.Context,
    technician: Annotated[str | None, typer.Option(
        "--technician", metavar="ID", help="The technician whose Google account this is; none: the shared "
                                           "account")] = None,
    service_account: Annotated[bool, typer.Option(
        "--service-account", help="Act as the technician through "
                                  "connectors.calendar.service_account_key_file (Workspace domain-wide "
                                  "delegation): no browser")] = False,
    account: Annotated[str | None, typer.Option(
        "--account", metavar="EMAIL", help="With --service-account: the user to act as (default: the "
                                           "technician's e-mail)")] = None,
    port: Annotated[int, typer.Option(help="Loopback port for Google's redirect; 0 picks a free one",
                                      min=0, max=65535)] = 0,
    browser: Annotated[bool, typer.Option("--browser/--no-browser",
                                          help="Open the consent page in a browser here")] = True,
    timeout: Annotated[int, typer.Option(help="Seconds to wait for the consent", min=10, max=3600)] = 300,
) -> None:
    """Sign in to Google (installed-app flow, loopback redirect), keep the grant encrypted, list calendars."""
    from store.calendar_connections import save_connection

    settings = settings_from(ctx)
    if account is not None and not service_account:
        fail("--account goes with --service-account (with OAuth, the account is whoever signs in)",
             EXIT_USAGE)
    email = _technician_email(settings, technician)  # fails before anyone is sent to a browser
    if service_account:
        grant = _delegated(settings, account or email, technician)
    else:
        grant = _consent(settings, port, browser, timeout)
    box = _secret_box(settings)
    with open_session(settings.database.url) as session:
        connection_id = save_connection(session, box, technician, grant).id
    who = f"technician {technician}" if technician else "the shared account"
    console.print(plain(f"connected {grant.account} ({grant.kind}) for {who}, connection {connection_id}"))
    console.print(f"calendars it can use ({len(grant.calendars)}):")
    for calendar_id in grant.calendars:
        console.print(plain(f"  {calendar_id}"))


def _technician_email(settings: Settings, technician_id: str | None) -> str | None:
    from store.models.technicians import Technician

    if technician_id is None:
        return None
    with open_session(settings.database.url) as session:
        technician = session.get(Technician, technician_id)
        if technician is None or technician.deleted_at is not None:
            fail(f"technician '{technician_id}' not found", EXIT_USAGE)
        return technician.email


def _delegated(settings: Settings, account: str | None, technician_id: str | None) -> Any:
    from connectors.calendar.consent import ConsentFailed, delegated_grant

    if account is None:
        fail("--service-account needs --technician with an e-mail, or --account EMAIL", EXIT_USAGE)
    try:
        return delegated_grant(settings.connectors.calendar, account)
    except ConsentFailed as exc:
        fail(str(exc), EXIT_PROBLEMS)


def _consent(settings: Settings, port: int, browser: bool, timeout: int) -> Any:
    from connectors.calendar.consent import ConsentFailed, run_consent

    try:
        return run_consent(settings.connectors.calendar, port=port, open_browser=browser, timeout=timeout,
                           prompt=PROMPT, done=DONE)
    except ConsentFailed as exc:
        fail(str(exc), EXIT_PROBLEMS)


def _secret_box(settings: Settings) -> Any:
    from errors import DespachoError
    from store.secrets import SecretBox, load_ring

    try:
        return SecretBox(load_ring(settings.secrets))
    except DespachoError as exc:
        fail(str(exc), EXIT_USAGE)


@calendar_app.command("disconnect")
def disconnect(
    ctx: typer.Context,
    technician: Annotated[str | None, typer.Option(
        "--technician", metavar="ID", help="The technician whose account to disconnect; none: the shared "
                                           "account")] = None,
    output: FormatFlag = "text",
) -> None:
    """Stop the account's push channels at Google, then forget its grant and stored token."""
    from dataclasses import asdict

    from connectors.calendar.disconnect import disconnect as run_disconnect
    from store.db import make_engine, session_scope
    from store.errors import NotFound

    settings = settings_from(ctx)
    sessions = partial(session_scope, make_engine(settings.database.url))
    try:
        result = run_disconnect(settings.connectors.calendar, sessions, _secret_box(settings), technician)
    except NotFound as exc:
        fail(f"{exc}: nothing to disconnect", EXIT_USAGE)
    if wants_json(output):
        print_json(console, asdict(result))
        return
    who = f"technician {technician}" if technician else "the shared account"
    console.print(plain(f"disconnected {result.account} for {who}"))
    if result.stopped:
        console.print(plain(f"channels stopped at Google: {', '.join(result.stopped)}"))
    if result.forgotten:
        console.print(plain(f"channels forgotten here but not stopped at Google ({result.problem}); they "
                            f"expire on their own: {', '.join(result.forgotten)}"))


@calendar_app.command("conflicts")
def conflicts(
    ctx: typer.Context,
    appointment: Annotated[str | None, typer.Option("--appointment", metavar="ID",
                                                    help="Only this appointment's conflicts")] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many, newest first")] = 50,
    output: FormatFlag = "text",
) -> None:
    """Appointments changed both in despacho and in Google since the last sync: both versions, who won."""
    from store.calendar_conflicts import list_conflicts

    as_json = wants_json(output)
    with open_session(settings_from(ctx).database.url) as session:
        rows = list_conflicts(session, limit=limit, appointment_id=appointment)
    if as_json:
        print_json(console, {"conflicts": rows})
        return
    _print_conflicts(rows)


def _print_conflicts(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    if not rows:
        console.print("no conflicts")
        return
    table = Table("detected (UTC)", "appointment", "calendar", "policy", "winner", "despacho", "google")
    for row in rows:
        cells = (row["detected_at"][:19], row["appointment_id"], row["calendar_id"], row["policy"],
                 row["winner"], _version(row["ours"]), _version(row["theirs"]))
        table.add_row(*(Text(plain(str(cell))) for cell in cells))
    console.print(table)


def _version(version: dict[str, Any]) -> str:
    parts = [f"{key} {version[key]}" for key in ("status", "start", "end", "summary") if version.get(key)]
    return "; ".join(parts) or "-"


def register(app: typer.Typer) -> None:
    app.add_typer(calendar_app, name="calendar")
