"""``despacho check``: can each connector reach its provider? Nothing is sent, nothing is written."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

from commands.common import EXIT_OK, EXIT_PROBLEMS, console, settings_from, wants_json
from errors import ConnectorError, PermanentError

if TYPE_CHECKING:
    from connectors.base import Connector
    from engine.settings import Settings


class Which(StrEnum):
    email = "email"
    sms = "sms"
    whatsapp = "whatsapp"
    calendar = "calendar"
    all = "all"


@dataclass
class CheckResult:
    connector: str
    target: str
    ok: bool
    latency_ms: float
    detail: str = ""
    error: str = ""
    code: str = ""
    hint: str = ""
    connections: list[dict[str, Any]] | None = None  # calendar: one row per Google connection


def connectors_for(settings: Settings, which: Which) -> list[Connector]:
    from connectors.base import Runtime
    from connectors.email import EmailConnector
    from connectors.sms import SmsConnector
    from connectors.whatsapp import WhatsAppConnector

    runtime = Runtime(outbox=settings.outbox.path, timezone=settings.timezone)
    every: list[Connector] = [EmailConnector(settings.connectors.email, runtime),
                              SmsConnector(settings.connectors.sms, runtime),
                              WhatsAppConnector(settings.connectors.whatsapp, runtime)]
    if which in (Which.calendar, Which.all):
        every.append(_calendar(settings))
    return [c for c in every if which is Which.all or c.name == which.value]


def _calendar(settings: Settings) -> Connector:
    """The calendar check reads the connections from the database and their tokens from the secrets."""
    from connectors.base import Runtime
    from connectors.calendar import CalendarConnector
    from engine.runtime.compose import connector_runtime
    from store.db import make_engine

    if settings.connectors.calendar.transport == "file":  # nothing to read: no database needed
        return CalendarConnector(settings.connectors.calendar, Runtime(outbox=settings.outbox.path))
    runtime = connector_runtime(settings, make_engine(settings.database.url))
    return CalendarConnector(settings.connectors.calendar, runtime)


def run_check(connector: Connector) -> CheckResult:
    started = time.perf_counter()
    try:
        found = connector.check()
    except ConnectorError as exc:
        code = exc.code if isinstance(exc, PermanentError) else "transient"
        return CheckResult(connector.name, _target(connector), False, _ms(started), error=str(exc),
                           code=code, hint=hint_for(connector, exc),
                           connections=getattr(exc, "connections", None))
    return CheckResult(connector.name, str(found.get("target", "")), True, _ms(started),
                       detail=str(found.get("detail", "")),
                       hint=_file_hint(connector) if connector.settings.transport == "file" else "",
                       connections=found.get("connections"))


def hint_for(connector: Connector, error: ConnectorError) -> str:
    """What to look at first, by the kind of failure."""
    section = f"connectors.{connector.name}"
    code = error.code if isinstance(error, PermanentError) else ""
    if code in ("smtp_535", "smtp_534", "smtp_530"):
        return f"check {section}.username and .password (SMTP_USERNAME / SMTP_PASSWORD)"
    if code == "smtp_tls_verify":
        return f"the certificate is not trusted: check {section}.host, or set {section}.ca_file"
    if code in ("smtp_no_starttls", "smtp_not_supported"):
        return f"check {section}.security and .port (starttls on 587, tls on 465)"
    if code == "not_configured":
        return f"set {section}.account_sid and .auth_token (TWILIO_ACCOUNT_SID / TWILIO_AUTH_TOKEN)"
    if code == "20003":
        return f"Twilio refused the credentials: check {section}.account_sid and .auth_token"
    if code == "account_inactive":
        return "the Twilio account is not active: see Twilio's console"
    if code == "calendar_not_connected":
        return "connect an account: despacho calendar connect [--technician ID]"
    if code == "calendar_auth":
        return "reconnect the broken account: despacho calendar connect [--technician ID]"
    if connector.name == "calendar":
        return f"is {section}.api_url reachable from here (proxy, DNS, firewall)?"
    if connector.name == "email":
        return f"is {section}.host:port right and reachable from here (firewall, DNS)?"
    return f"is {section}.api_base_url reachable from here (proxy, DNS, firewall)?"


def _file_hint(connector: Connector) -> str:
    real = {"email": "smtp", "calendar": "google"}.get(connector.name, "twilio")
    return f"transport: file writes to the outbox; set transport: {real} to send"


def _target(connector: Connector) -> str:
    settings = connector.settings
    if settings.transport == "file":
        return "file"
    if connector.name == "email":
        return f"{settings.host}:{settings.port}"  # type: ignore[attr-defined]
    if connector.name == "calendar":
        return str(settings.api_url)  # type: ignore[attr-defined]
    return str(settings.api_base_url)  # type: ignore[attr-defined]


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


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
    which: Annotated[Which, typer.Argument(help="email, sms, whatsapp, calendar or all")] = Which.all,
    output: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Reach each provider (SMTP EHLO + AUTH, Twilio account fetch, Google token refresh); send nothing."""
    as_json = wants_json(output)
    settings = settings_from(ctx)
    results = [run_check(c) for c in connectors_for(settings, which)]
    if as_json:
        console.print(json.dumps({"ok": all(r.ok for r in results), "checks": [asdict(r) for r in results]},
                                 ensure_ascii=False, indent=2), soft_wrap=True)
    else:
        print_table(results)
    raise typer.Exit(EXIT_OK if all(r.ok for r in results) else EXIT_PROBLEMS)


def register(app: typer.Typer) -> None:
    app.command("check")(check)
