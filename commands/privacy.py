"""``despacho privacy``: subjects' requests and rights, retention purge, access log, incidents, consent.

PERSON is a customer id, phone, email or CPF/CNPJ (``store.privacy.subjects``). Every right
served is recorded in the request register: ``--request ID`` closes a request recorded when
it arrived (``privacy request``), otherwise a new one is recorded as done.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from commands.common import EXIT_USAGE, FormatFlag, console, fail, open_session, settings_from, wants_json
from commands.consent import consent_app
from commands.output import plain, print_json
from commands.privacy_common import ActorOption, Person, actor_name, subject, usage_errors

privacy_app = typer.Typer(help="LGPD: subjects' requests, export, correction, anonymisation, retention, "
                               "access log, incidents, consent.", no_args_is_help=True)
incident_app = typer.Typer(help="The incident register (ANPD notice within 3 business days).",
                           no_args_is_help=True)

RequestOption = Annotated[str | None, typer.Option("--request", help="Close this open request (its id)")]


@privacy_app.command("requests")
def requests_command(ctx: typer.Context, status: Annotated[str | None, typer.Option(
        help="open, done or refused (default: all)")] = None, output: FormatFlag = "text") -> None:
    """The request register, open ones first by deadline; overdue ones flagged."""
    from store.privacy.requests import list_requests

    with open_session(settings_from(ctx).database.url) as session, usage_errors():
        rows = [v.to_dict() for v in list_requests(session, status=status)]
    if wants_json(output):
        print_json(console, {"requests": rows})
        return
    if not rows:
        console.print("no privacy requests")
    for row in rows:
        flag = " OVERDUE" if row["overdue"] else ""
        console.print(plain(f"{row['id']}  {row['kind']:<10} {row['status']:<8} "
                            f"customer={row['customer_id']} "
                            f"requested={row['requested_at'][:10]} deadline={row['deadline'][:10]}{flag}"))


@privacy_app.command("request")
def request_command(ctx: typer.Context, kind: Annotated[str, typer.Argument(
        help="export, correct, anonymise, processors or access")], person: Person,
        notes: Annotated[str | None, typer.Option(help="How it came, what was asked")] = None,
        actor: ActorOption = None) -> None:
    """Record a request as it arrives; it is open until served (--request) or refused."""
    from store.privacy.requests import open_request

    with open_session(settings_from(ctx).database.url) as session, usage_errors():
        customer = subject(session, person)
        request = open_request(session, kind, customer.id, actor=actor_name(actor), notes=notes)
        line = f"request {request.id}: {kind} for customer {customer.id}, due {request.deadline:%Y-%m-%d}"
    console.print(line)


@privacy_app.command("refuse")
def refuse_command(ctx: typer.Context, request_id: Annotated[str, typer.Argument(help="The request")],
                   reason: Annotated[str, typer.Option(help="Why (the subject is told)")]) -> None:
    """Refuse an open request, with the reason."""
    from store.privacy.requests import refuse

    with open_session(settings_from(ctx).database.url) as session, usage_errors():
        refuse(session, request_id, reason)
    console.print(f"request {request_id}: refused")


@privacy_app.command("export")
def export_command(ctx: typer.Context, person: Person,
                   out: Annotated[Path, typer.Option("--out", help="An existing folder for the files")],
                   request: RequestOption = None, actor: ActorOption = None) -> None:
    """Everything held about PERSON, as JSON and PDF files in --out (named by customer id and time)."""
    from commands.output import to_json
    from commands.privacy_pdf import write_pdf
    from store.privacy.access import record_access
    from store.privacy.export import export_subject
    from store.privacy.requests import serve
    from store.types import utcnow

    folder = _out_folder(out)
    settings = settings_from(ctx)
    who = actor_name(actor)
    with open_session(settings.database.url) as session:
        customer = subject(session, person)
        now = utcnow()
        document = export_subject(session, customer, now=now)
        # the customer id is a UUID from the store and the time is ours: nothing in the data names the file
        stem = f"despacho-export-{customer.id}-{now:%Y%m%dT%H%M%SZ}"
        json_path, pdf_path = folder / f"{stem}.json", folder / f"{stem}.pdf"
        with usage_errors():
            served = serve(session, "export", customer.id, actor=who, request_id=request,
                           details={"files": [json_path.name, pdf_path.name]}, now=now)
        record_access(session, who, [customer.id], what="privacy export",
                      reason=f"privacy request {served.id}")
        _write_new(json_path, to_json(document))
        write_pdf(document, pdf_path, company=settings.company.name)
    console.print(f"wrote {json_path}\nwrote {pdf_path}\nrequest {served.id}: done")


def _out_folder(out: Path) -> Path:
    if not out.is_dir():
        fail(f"--out: {out} is not an existing folder", EXIT_USAGE)
    return out.resolve()


def _write_new(path: Path, text: str) -> None:
    try:
        with path.open("x", encoding="utf-8") as handle:  # never over an existing file
            handle.write(text)
    except FileExistsError:
        fail(f"--out: {path} exists already", EXIT_USAGE)


@privacy_app.command("correct")
def correct_command(ctx: typer.Context, person: Person, assignments: Annotated[list[str], typer.Option(
        "--set", help="field=value (repeat); an empty value clears an optional field")],
        request: RequestOption = None, actor: ActorOption = None) -> None:
    """Correct PERSON's data through the store's checks; audited (fields, not values)."""
    from store.privacy.correct import correct_subject
    from store.privacy.requests import serve

    changes: dict[str, str | None] = {}
    for item in assignments:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            fail(f"--set: '{plain(item)}' is not field=value", EXIT_USAGE)
        changes[name.strip()] = value
    who = actor_name(actor)
    with open_session(settings_from(ctx).database.url) as session, usage_errors():
        customer = subject(session, person)
        changed = correct_subject(session, customer, changes, actor=who)
        served = serve(session, "correct", customer.id, actor=who, request_id=request,
                       details={"fields": changed})
        fields = ", ".join(changed) or "nothing (values were already so)"
        summary = f"corrected: {fields}; request {served.id}: done"
    console.print(summary)


@privacy_app.command("anonymise")
def anonymise_command(ctx: typer.Context, person: Person, force: Annotated[bool, typer.Option(
        "--force", help="Even with open service orders (their address is lost)")] = False,
        request: RequestOption = None, actor: ActorOption = None, output: FormatFlag = "text") -> None:
    """Anonymise PERSON: invoices, payments (and the CPF/CNPJ while they must be kept) stay."""
    from store.privacy.anonymise import anonymise_subject
    from store.privacy.requests import serve

    who = actor_name(actor)
    with open_session(settings_from(ctx).database.url) as session, usage_errors():
        customer = subject(session, person)
        result = anonymise_subject(session, customer, actor=who, force=force)
        served = serve(session, "anonymise", customer.id, actor=who, request_id=request,
                       details=result.to_dict())
        body = {**result.to_dict(), "request": served.id}
    if wants_json(output):
        print_json(console, body)
        return
    changed = ", ".join(f"{k} {v}" for k, v in sorted(body["changed"].items())) or "nothing"
    deleted = ", ".join(f"{k} {v}" for k, v in sorted(body["deleted"].items())) or "nothing"
    console.print(f"customer {body['customer_id']} anonymised; changed: {changed}; deleted: {deleted}")
    if body["tax_id_kept_until"]:
        console.print(f"CPF/CNPJ kept for the invoices until {body['tax_id_kept_until'][:10]} (tax law)")
    console.print(f"request {served.id}: done")


@privacy_app.command("processors")
def processors_command(ctx: typer.Context, person: Person, request: RequestOption = None,
                       actor: ActorOption = None, output: FormatFlag = "text") -> None:
    """The processors PERSON's data went to, with when, from despacho's own records."""
    from store.privacy.processors import subject_processors
    from store.privacy.requests import serve

    who = actor_name(actor)
    with open_session(settings_from(ctx).database.url) as session, usage_errors():
        customer = subject(session, person)
        uses = [u.to_dict() for u in subject_processors(session, customer)]
        served = serve(session, "processors", customer.id, actor=who, request_id=request,
                       details={"processors": sorted({u["processor"] for u in uses})})
    if wants_json(output):
        print_json(console, {"customer_id": customer.id, "processors": uses, "request": served.id})
        return
    if not uses:
        console.print("no processor received this person's data")
    for use in uses:
        console.print(plain(f"{use['processor']}: {use['purpose']}, {use['count']} time(s), "
                            f"{str(use['first_at'])[:10]} .. {str(use['last_at'])[:10]}"))
    console.print(f"request {served.id}: done")


@privacy_app.command("access-log")
def access_log_command(ctx: typer.Context, person: Person, request: RequestOption = None,
                       actor: ActorOption = None, output: FormatFlag = "text") -> None:
    """Who read PERSON's data through the API (and privacy exports), what and why; newest first."""
    from store.privacy.access import access_dict, access_log
    from store.privacy.requests import serve

    with open_session(settings_from(ctx).database.url) as session, usage_errors():
        customer = subject(session, person)
        rows = [access_dict(e) for e in access_log(session, customer.id)]
        served = serve(session, "access", customer.id, actor=actor_name(actor), request_id=request,
                       details={"entries": len(rows)})
    if wants_json(output):
        print_json(console, {"customer_id": customer.id, "accesses": rows, "request": served.id})
        return
    for row in rows:
        console.print(plain(f"{row['at'][:19]}  {row['who']}  {row['what']}  why: {row['why'] or '-'}"))
    console.print(f"{len(rows)} access(es); request {served.id}: done")


@privacy_app.command("purge")
def purge_command(ctx: typer.Context, dry_run: Annotated[bool, typer.Option(
        "--dry-run", help="Count what would go, delete nothing")] = False,
        output: FormatFlag = "text") -> None:
    """Delete what is past privacy.retention now (the daemon does it daily)."""
    from commands.common import database_errors
    from store.db import make_engine
    from store.privacy.retention import purge

    settings = settings_from(ctx)
    with database_errors(settings.database.url):
        engine = make_engine(settings.database.url)
        try:
            report = purge(engine, settings.privacy, dry_run=dry_run)
        finally:
            engine.dispose()
    if wants_json(output):
        print_json(console, report.to_dict())
        return
    verb = "would delete" if dry_run else "deleted"
    for name, count in report.counts.items():
        console.print(f"{name}: {verb} {count}")
    if not report.complete:
        console.print("more is due: the rest goes in the next purge")


# --- incidents ------------------------------------------------------------------------------------

When = Annotated[datetime | None, typer.Option(formats=["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z",
                                                        "%Y-%m-%d %H:%M%z"])]


@incident_app.command("add")
def incident_add(ctx: typer.Context, summary: Annotated[str, typer.Option(help="What happened")],
                 detected_at: When = None, occurred_at: When = None,
                 category: Annotated[list[str] | None, typer.Option(
                     "--category", help="A data category affected (repeat): name, phone, cpf...")] = None,
                 subjects: Annotated[int, typer.Option(min=0, help="Subjects affected (estimate)")] = 0,
                 risk: Annotated[str, typer.Option(help="low, medium or high")] = "medium",
                 measures: Annotated[str | None, typer.Option(help="Measures taken")] = None,
                 actor: ActorOption = None) -> None:
    """Register an incident; prints its ANPD notice deadline (3 business days)."""
    from store.privacy.incidents import add_incident
    from store.types import utcnow

    settings = settings_from(ctx)
    detected = _aware(detected_at, "--detected-at") or utcnow()
    with open_session(settings.database.url) as session, usage_errors():
        incident = add_incident(session, summary=summary, detected_at=detected, timezone=settings.timezone,
                                actor=actor_name(actor), occurred_at=_aware(occurred_at, "--occurred-at"),
                                data_categories=category or [], subjects_affected=subjects, risk=risk,
                                measures=measures)
        line = f"incident {incident.id}: notify the ANPD and the subjects by {incident.deadline.isoformat()}"
    console.print(line)


def _aware(value: datetime | None, option: str) -> datetime | None:
    if value is not None and value.tzinfo is None:
        fail(f"{option}: give the time zone, e.g. 2026-12-05T14:30-03:00", EXIT_USAGE)
    return value


@incident_app.command("list")
def incident_list(ctx: typer.Context, output: FormatFlag = "text") -> None:
    """The register, newest first; overdue notices flagged."""
    from store.privacy.incidents import incident_dict, list_incidents

    settings = settings_from(ctx)
    with open_session(settings.database.url) as session:
        rows = [incident_dict(i, timezone=settings.timezone) for i in list_incidents(session)]
    if wants_json(output):
        print_json(console, {"incidents": rows})
        return
    if not rows:
        console.print("no incidents")
    for row in rows:
        flag = " NOTICE OVERDUE" if row["overdue"] else ""
        console.print(plain(f"{row['id']}  {row['status']:<6} risk={row['risk']:<6} "
                            f"detected={row['detected_at'][:10]} "
                            f"deadline={row['deadline']}{flag}  {row['summary'][:80]}"))


@incident_app.command("show")
def incident_show(ctx: typer.Context, incident_id: Annotated[str,
                                                             typer.Argument(help="The incident")]) -> None:
    """One incident, every field (JSON)."""
    from store.privacy.incidents import get_incident, incident_dict

    settings = settings_from(ctx)
    with open_session(settings.database.url) as session, usage_errors():
        row = incident_dict(get_incident(session, incident_id), timezone=settings.timezone)
    print_json(console, row)


@incident_app.command("update")
def incident_update(ctx: typer.Context, incident_id: Annotated[str, typer.Argument(help="The incident")],
                    summary: Annotated[str | None, typer.Option(help="What happened")] = None,
                    occurred_at: When = None, anpd_notified_at: When = None,
                    subjects_notified_at: When = None,
                    category: Annotated[list[str] | None, typer.Option(
                        "--category", help="Replaces the categories (repeat)")] = None,
                    subjects: Annotated[int | None, typer.Option(min=0, help="Subjects affected")] = None,
                    risk: Annotated[str | None, typer.Option(help="low, medium or high")] = None,
                    measures: Annotated[str | None, typer.Option(help="Measures taken")] = None,
                    status: Annotated[str | None, typer.Option(help="open or closed")] = None,
                    actor: ActorOption = None) -> None:
    """Record what was done: notices sent, measures, closing; audited."""
    from store.audit import record_action
    from store.privacy.incidents import update_incident

    changes: dict[str, Any] = {
        "summary": summary, "occurred_at": _aware(occurred_at, "--occurred-at"),
        "anpd_notified_at": _aware(anpd_notified_at, "--anpd-notified-at"),
        "subjects_notified_at": _aware(subjects_notified_at, "--subjects-notified-at"),
        "data_categories": category, "subjects_affected": subjects, "risk": risk, "measures": measures,
        "status": status}
    changes = {k: v for k, v in changes.items() if v is not None}
    if not changes:
        fail("nothing to update: give at least one option", EXIT_USAGE)
    with open_session(settings_from(ctx).database.url) as session, usage_errors():
        update_incident(session, incident_id, changes)
        record_action(session, actor_name(actor), "privacy.incident.update", entity_type="privacy_incident",
                      entity_id=incident_id, details={"fields": sorted(changes)})
    console.print(f"incident {incident_id}: updated {', '.join(sorted(changes))}")


privacy_app.add_typer(incident_app, name="incident")
privacy_app.add_typer(consent_app, name="consent")


def register(app: typer.Typer) -> None:
    app.add_typer(privacy_app, name="privacy")
