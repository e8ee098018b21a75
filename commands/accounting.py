"""``despacho accounting ...``: connect an accounting system, export a month for the accountant."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from commands.common import (
    EXIT_PROBLEMS,
    EXIT_USAGE,
    console,
    database_errors,
    fail,
    open_session,
    settings_from,
)

accounting_app = typer.Typer(help="Accounting systems: connect, export.", no_args_is_help=True)


class ConnectSystem(StrEnum):
    conta_azul = "conta-azul"


class ExportFormat(StrEnum):
    csv = "csv"
    xlsx = "xlsx"


@accounting_app.command()
def connect(
    ctx: typer.Context,
    system: Annotated[ConnectSystem, typer.Argument(help="The system to authorise (conta-azul)")],
    company: Annotated[str, typer.Option("--company", help="Which client company this grant is for")
                       ] = "default",
    no_browser: Annotated[bool, typer.Option("--no-browser", help="Print the link instead of opening it")
                          ] = False,
    port: Annotated[int, typer.Option("--port", min=0, max=65535,
                                      help="Loopback port of the redirect (registered as "
                                           "http://localhost:PORT/callback in the Conta Azul app)")] = 8750,
    timeout: Annotated[float, typer.Option("--timeout", min=1, help="Seconds to wait for the browser")] = 300,
) -> None:
    """Authorise despacho in Conta Azul for COMPANY (OAuth2 authorisation code, loopback redirect)."""
    import webbrowser

    from connectors.accounting.conta_azul_auth import check_company
    from connectors.accounting.conta_azul_connect import LoopbackReceiver, authorize_url, finish
    from errors import PermanentError
    from store.db import make_engine, session_scope
    from store.secrets import SecretBox, load_ring

    settings = settings_from(ctx)
    ca = settings.connectors.accounting.conta_azul
    try:
        check_company(company)
        if ca.client_secret is None:
            raise PermanentError("connectors.accounting.conta_azul.client_secret is not set",
                                 code="not_configured")
        receiver = LoopbackReceiver(port)
        url = authorize_url(ca, receiver.redirect_uri, receiver.state)
    except (PermanentError, OSError) as exc:
        fail(f"cannot start the connection: {exc}", EXIT_USAGE)
    console.print(f"Open this link to authorise despacho in Conta Azul:\n{url}", soft_wrap=True, markup=False)
    if not no_browser:
        webbrowser.open(url)
    url_db = settings.database.url
    with database_errors(url_db):
        code = receiver.wait(timeout)
        engine = make_engine(url_db)
        try:
            box = SecretBox(load_ring(settings.secrets))
            version = finish(ca, lambda: session_scope(engine), box, company, code, receiver.redirect_uri)
        finally:
            engine.dispose()
    console.print(f"connected Conta Azul for company '{company}' (token version {version})", markup=False)


@accounting_app.command()
def export(
    ctx: typer.Context,
    month: Annotated[str, typer.Option("--month", help="YYYY-MM, in the company's time zone")],
    fmt: Annotated[ExportFormat, typer.Option("--format", help="csv or xlsx")] = ExportFormat.csv,
    out: Annotated[Path | None, typer.Option("--out", help="File to write (default: under export_dir)")
                   ] = None,
) -> None:
    """Write the month's invoices and payments for the accountant (CSV or XLSX)."""
    from commands.export_files import write_csv, write_xlsx
    from store.accounting_export import MONTH, month_export

    if not MONTH.fullmatch(month):
        fail(f"--month must be YYYY-MM (e.g. 2026-11), not {month[:20]!r}", EXIT_USAGE)
    settings = settings_from(ctx)
    # the name is ours, never taken from the data: only the admin's --out chooses another place
    path = out or settings.connectors.accounting.export_dir / f"despacho-{month}.{fmt.value}"
    with open_session(settings.database.url) as session:
        data = month_export(session, month, settings.timezone)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        (write_csv if fmt is ExportFormat.csv else write_xlsx)(data, path)
    except OSError as exc:
        fail(f"cannot write {path}: {exc.strerror or exc}", EXIT_PROBLEMS)
    console.print(f"wrote {path}: {len(data.invoices)} invoices, {len(data.payments)} payments", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(accounting_app, name="accounting")
