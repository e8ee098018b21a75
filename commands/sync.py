"""``despacho sync``: what was sent to the accounting systems, each exchange, retries, reconciliation."""

from __future__ import annotations

from datetime import date
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
from commands.output import plain, print_json, print_table

if TYPE_CHECKING:
    from connectors.accounting.reconcile import Report
    from engine.settings import Settings

sync_app = typer.Typer(help="Accounting syncs: records, their audit trail, retries and reconciliation.",
                       no_args_is_help=True)


@sync_app.command("list")
def list_records(
    ctx: typer.Context,
    system: Annotated[str | None, typer.Option("--system", metavar="S", help="asaas, omie, conta_azul")]
    = None,
    status: Annotated[str | None, typer.Option("--status", metavar="S", help="pending, synced or failed")]
    = None,
    entity: Annotated[str | None, typer.Option("--entity", metavar="E", help="customer, invoice, payment...")]
    = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="At most this many, latest first")] = 100,
    output: FormatFlag = "text",
) -> None:
    """Sync records, latest change first: system, entity, external id, status, attempts, last error."""
    from store.accounting_sync import list_records as query
    from store.accounting_sync import summary
    from store.models.accounting import SYNC_ENTITIES, SYNC_STATUSES

    as_json = wants_json(output)
    if status is not None and status not in SYNC_STATUSES:
        fail(f"--status must be one of {', '.join(SYNC_STATUSES)}, not '{status}'", EXIT_USAGE)
    if entity is not None and entity not in SYNC_ENTITIES:
        fail(f"--entity must be one of {', '.join(SYNC_ENTITIES)}, not '{entity}'", EXIT_USAGE)
    with open_session(settings_from(ctx).database.url) as session:
        rows = [summary(r) for r in query(session, system=system, status=status, entity=entity, limit=limit)]
    if as_json:
        print_json(console, {"records": rows})
        return
    _print_records(rows)


def _print_records(rows: list[dict[str, Any]]) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table("id", "updated (UTC)", "system", "entity", "entity id", "external id", "status", "attempts",
                  "last error")
    for row in rows:
        cells = (row["id"], (row["updated_at"] or "")[:19], row["system"], row["entity_type"],
                 row["entity_id"], row["external_id"] or "-", row["status"], str(row["attempts"]),
                 (row["last_error"] or "")[:80])
        table.add_row(*(Text(plain(str(cell))) for cell in cells))
    print_table(console, table)


@sync_app.command("show")
def show_record(
    ctx: typer.Context,
    record_id: Annotated[str, typer.Argument(metavar="ID", help="A sync record id or a unique prefix")],
    output: FormatFlag = "text",
) -> None:
    """One record, its conflicts and its audit trail (requests summarised)."""
    from store.accounting_sync import audit_summary, conflicts_of, get_record, summary, trail

    as_json = wants_json(output)
    with open_session(settings_from(ctx).database.url) as session:
        record = get_record(session, _record_ids(session, [record_id])[0])
        shown = {"record": summary(record),
                 "conflicts": [c.model_dump(mode="json") for c in conflicts_of(session, record)],
                 "audit": [audit_summary(a) for a in trail(session, record.id)]}
    if as_json:
        print_json(console, shown)
        return
    _print_record(shown)


def _print_record(shown: dict[str, Any]) -> None:
    from rich.table import Table
    from rich.text import Text

    record = shown["record"]
    for name, value in record.items():
        console.print(f"{name}: {value if value is not None else '-'}", markup=False)
    for c in shown["conflicts"]:
        console.print(f"conflict {c['field']}: ours {c['ours']!r}, theirs {c['theirs']!r} -> "
                      f"kept {c['kept']} ({c['owner']} owns it)", markup=False)
    table = Table("at (UTC)", "dir", "operation", "status", "outcome", "rule / step", "request", "error")
    for a in shown["audit"]:
        who = f"{a['rule_id'] or '-'} / {a['step_id'] or '-'}"
        cells = (a["at"][:19], a["direction"], a["operation"], str(a["status_code"] or "-"), a["outcome"],
                 who, str(a["request"] or "")[:60], (a["error"] or "")[:60])
        table.add_row(*(Text(plain(str(cell))) for cell in cells))
    print_table(console, table)


@sync_app.command("retry")
def retry_records(ctx: typer.Context, ids: Annotated[list[str], typer.Argument(metavar="ID...")]) -> None:
    """Run failed syncs again: their dead-lettered rule steps are queued with their original context."""
    from engine.runtime.outbox import Transaction
    from engine.runtime.sync_retry import retry_records as retry

    with open_session(settings_from(ctx).database.url) as session:
        outcome = retry(Transaction(session), _record_ids(session, ids), actor="cli")
    for record_id, step_id in outcome.requeued.items():
        console.print(f"{record_id}: step {step_id} queued again", markup=False)
    for record_id, why in outcome.skipped.items():
        console.print(f"{record_id}: not retried: {why}", markup=False)
    if outcome.skipped:
        raise typer.Exit(EXIT_PROBLEMS)


@sync_app.command("reconcile")
def reconcile_command(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", metavar="DATE", help="Invoices issued since (YYYY-MM-DD)")],
    system: Annotated[str | None, typer.Option("--system", metavar="S", help="Default: every configured")]
    = None,
    output: FormatFlag = "text",
) -> None:
    """Compare open receivables on both sides; exit 1 when anything differs."""
    as_json = wants_json(output)
    try:
        start = date.fromisoformat(since)
    except ValueError:
        fail(f"--since must be a date (YYYY-MM-DD), not '{since}'", EXIT_USAGE)
    reports = run_reconcile(settings_from(ctx), system, start)
    if as_json:
        print_json(console, {"ok": all(r.ok for r in reports), "reports": [r.to_dict() for r in reports]})
    else:
        for report in reports:
            _print_report(report)
    if not all(r.ok for r in reports):
        raise typer.Exit(EXIT_PROBLEMS)


def run_reconcile(settings: Settings, system: str | None, since: date) -> list[Report]:
    from commands.common import database_errors
    from connectors.accounting.reconcile import reconcile

    connector = live_accounting(settings)
    systems = [system] if system else [s for s in (connector.settings.payments, connector.settings.erp) if s]
    if not systems:
        fail("no accounting system configured: set connectors.accounting.payments or .erp", EXIT_USAGE)
    session = connector.runtime.session
    assert session is not None
    with database_errors(settings.database.url):
        return [reconcile(session, connector.sync().adapter(s), since, s) for s in systems]


def live_accounting(settings: Settings) -> Any:
    """The accounting connector on this config's database; a usage error unless its transport is live."""
    from connectors.accounting import AccountingConnector
    from engine.runtime.compose import connector_runtime
    from store.db import make_engine

    accounting = settings.connectors.accounting
    if accounting.transport != "live":
        fail("connectors.accounting.transport is 'file': there is no system to compare with (set it to live)",
             EXIT_USAGE)
    return AccountingConnector(accounting, connector_runtime(settings, make_engine(settings.database.url)))


def _print_report(report: Report) -> None:
    from rich.table import Table
    from rich.text import Text

    console.print(f"{report.system} since {report.since}: {report.ours} open invoice(s) here, "
                  f"{report.theirs} open receivable(s) there", markup=False)
    if report.ok:
        console.print("no mismatch")
        return
    table = Table("kind", "invoice", "external id", "ours", "theirs")
    for m in report.mismatches:
        cells = (m.kind, m.number or m.invoice_id or "-", m.external_id or "-", m.ours, m.theirs)
        table.add_row(*(Text(plain(str(cell if cell is not None else "-"))) for cell in cells))
    print_table(console, table)
    console.print(f"{len(report.mismatches)} mismatch(es)")


def _record_ids(session: Any, typed: list[str]) -> list[str]:
    """Full ids from ids or unique prefixes; one unknown or ambiguous id stops the command unchanged."""
    from sqlmodel import col

    from store.models.accounting import AccountingSyncRecord
    from store.prefixes import resolve_prefixes

    return resolve_prefixes(session, col(AccountingSyncRecord.id), typed, AccountingSyncRecord.entity,
                            col(AccountingSyncRecord.deleted_at).is_(None))


def register(app: typer.Typer) -> None:
    app.add_typer(sync_app, name="sync")
