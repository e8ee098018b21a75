"""``despacho check``: do the broker and each connector's provider answer? Nothing is sent or written."""

from __future__ import annotations

import json
from dataclasses import asdict
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from commands.common import EXIT_OK, EXIT_PROBLEMS, console, settings_from, wants_json

if TYPE_CHECKING:
    from engine.runtime.checks import CheckResult


class Which(StrEnum):  # engine.runtime.checks.Which's values (imported only when it runs), and broker
    broker = "broker"
    email = "email"
    sms = "sms"
    whatsapp = "whatsapp"
    calendar = "calendar"
    accounting = "accounting"
    all = "all"


def print_table(results: list[CheckResult]) -> None:
    from rich.table import Table

    table = Table(show_edge=False, pad_edge=False)
    for column in ("connector", "target", "result", "latency", "error", "hint"):
        table.add_column(column, overflow="fold")
    for r in results:
        table.add_row(r.connector, r.target, "[green]ok[/]" if r.ok else "[red]failed[/]",
                      f"{r.latency_ms:.0f} ms", r.error or r.detail, r.hint)
    console.print(table)
    for r in results:
        if r.connections:
            print_connections(r.connections)
    failed = sum(not r.ok for r in results)
    console.print(f"{failed} of {len(results)} checks failed" if failed else f"{len(results)} checks ok")


def print_connections(rows: list[dict[str, Any]]) -> None:
    """Google connections: whose, which account, which calendars answer, when the token expires."""
    from rich.table import Table
    from rich.text import Text

    table = Table("technician", "account", "kind", "status", "calendars", "token expires (UTC)", "problem",
                  title="Google Calendar connections", show_edge=False, pad_edge=False)
    for row in rows:
        calendars = ", ".join(f"{c['calendar_id']} {'ok' if c['reachable'] else 'unreachable'}"
                              for c in row["calendars"]) or "-"
        problem = row["broken_reason"] if row["status"] == "broken" else row["error"]
        expires = (row["token_expires_at"] or "-")[:19]
        cells = (row["technician_id"] or "(shared)", row["account"], row["kind"], row["status"], calendars,
                 expires, problem or "")
        table.add_row(*(Text(str(cell)) for cell in cells))
    console.print(table)


def check(
    ctx: typer.Context,
    which: Annotated[Which, typer.Argument(
        help="broker, email, sms, whatsapp, calendar, accounting or all")] = Which.all,
    output: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Reach the broker (Redis or RabbitMQ, and its coordination Redis) and each provider (SMTP, Twilio,
    Google token refresh, accounting systems); send nothing."""
    from engine.runtime import checks

    as_json = wants_json(output)
    settings = settings_from(ctx)
    results = checks.broker_checks(settings) if which in (Which.broker, Which.all) else []
    if which is not Which.broker:
        results += checks.run_checks(settings, checks.Which(which.value))
    if as_json:
        console.print(json.dumps({"ok": all(r.ok for r in results), "checks": [asdict(r) for r in results]},
                                 ensure_ascii=False, indent=2), soft_wrap=True)
    else:
        print_table(results)
    raise typer.Exit(EXIT_OK if all(r.ok for r in results) else EXIT_PROBLEMS)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
