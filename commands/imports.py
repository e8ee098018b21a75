"""``despacho import KIND FILE --mapping MAP``: bring a company's existing records in, all or nothing."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, NoReturn

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

KINDS = ("customers", "technicians", "orders", "appointments", "invoices")
MAX_PROBLEMS_SHOWN = 50


def import_file(
    ctx: typer.Context,
    kind: Annotated[str, typer.Argument(help="customers, technicians, orders, appointments or invoices")],
    file: Annotated[Path, typer.Argument(help="The .csv or .xlsx file; its first line holds the headers")],
    mapping: Annotated[Path, typer.Option("--mapping", "-m", help="YAML file: which column is which field")],
    dry_run: Annotated[bool, typer.Option("--dry-run",
                                          help="Check every row and report; change nothing")] = False,
    events: Annotated[bool, typer.Option(
        "--events", help="Record the events the API would (service_order.created, invoice.issued) for new "
                         "records, so rules act on them; history fires none by default")] = False,
    backup: Annotated[bool, typer.Option(
        "--backup/--no-backup",
        help="Back up the database first (connectors.backup; never for --dry-run)")] = True,
    output: FormatFlag = "text",
) -> None:
    """Import rows checked as the API checks them; a re-run updates what it imported (by the source's ids)."""
    from store.imports import (
        ImportRejected,
        MappingInvalid,
        SourceUnreadable,
        import_rows,
        integrity_report,
        load_mapping,
        read_rows,
    )

    if kind not in KINDS:
        fail(f"KIND must be one of {', '.join(KINDS)}, not '{kind}'", EXIT_USAGE)
    settings = settings_from(ctx)
    try:
        rules = load_mapping(mapping, kind)  # type: ignore[arg-type]
        rows = read_rows(file)
    except (MappingInvalid, SourceUnreadable) as exc:
        fail(str(exc), EXIT_USAGE)
    if backup and not dry_run:
        from commands.backup import backup_before

        backup_before(settings, tag="pre-import", doing="importing",
                      skip_hint="despacho import ... --no-backup")
    rejected: ImportRejected | None = None
    with open_session(settings.database.url) as session:
        try:
            report = import_rows(session, rules, rows, file=file, dry_run=dry_run, emit_events=events)
        except ImportRejected as exc:  # rolled back already: the session commits nothing
            rejected = exc
        else:
            integrity = integrity_report(session)
    if rejected is not None:
        _refused(rejected, wants_json(output))
    if wants_json(output):
        print_json(console, {"import": asdict(report) | {"record_ids": None}, "integrity": integrity})
        return
    _print_report(report, integrity)


def _refused(exc: Any, as_json: bool) -> NoReturn:
    if as_json:
        print_json(console, {"imported": False, "problems": [asdict(problem) for problem in exc.problems]})
        raise typer.Exit(EXIT_PROBLEMS)
    for problem in exc.problems[:MAX_PROBLEMS_SHOWN]:
        console.print(plain(str(problem)))
    hidden = len(exc.problems) - MAX_PROBLEMS_SHOWN
    if hidden > 0:
        console.print(f"... and {hidden} more (--format json lists them all)")
    fail(f"{len(exc.problems)} problem(s): nothing was imported", EXIT_PROBLEMS)


def _print_report(report: Any, integrity: dict[str, Any]) -> None:
    verb = "would import" if report.dry_run else "imported"
    console.print(plain(f"{verb} {report.rows} {report.kind} row(s) from '{report.source}': {report.created} "
                        f"new, {report.updated} updated, {report.unchanged} unchanged"
                        + (f", {report.events} event(s) recorded" if report.events else "")))
    counts = ", ".join(f"{table} {count}" for table, count in integrity["counts"].items())
    console.print(f"now in despacho: {counts}")
    for name, ids in integrity["orphans"].items():
        if ids:
            console.print(plain(f"orphans ({name.replace('_', ' ')}): {', '.join(ids)}"))
    for name, groups in integrity["duplicates"].items():
        for group in groups:
            console.print(plain(f"possible duplicate ({name.replace('_', ' ')}): {group['value']} on "
                                f"{group['customers']} customers"))


def register(app: typer.Typer) -> None:
    app.command("import")(import_file)
