"""The admin's command line: validate, dry-run and test rules before they merge."""

from __future__ import annotations

import copy
import sys
from contextlib import nullcontext
from datetime import datetime
from enum import StrEnum
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Annotated
from zoneinfo import ZoneInfo

import typer
import typer.main

from commands import accounting as accounting_commands
from commands import api as api_commands
from commands import backup as backup_commands
from commands import calendar as calendar_commands
from commands import check as check_commands
from commands import flags as flags_commands
from commands import imports as import_commands
from commands import ops as ops_commands
from commands import output as out
from commands import plan as plan_commands
from commands import privacy as privacy_commands
from commands import runs as runs_commands
from commands import sync as sync_commands
from commands import users as user_commands
from commands.common import (
    EXIT_OK,
    EXIT_PROBLEMS,
    EXIT_USAGE,
    console,
    fail,
    open_session,
    settings_from,
    stderr,
)
from commands.db import db_app

if TYPE_CHECKING:
    from engine.language.dryrun import DryRun, EventPreview
    from engine.language.events import Event
    from engine.language.models import CronTrigger, EveryTrigger
    from engine.settings import Settings

app = typer.Typer(help="despacho: rules, connectors and automation for field service.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


class OutputFormat(StrEnum):
    text = "text"
    json = "json"


FormatOption = Annotated[OutputFormat, typer.Option("--format", help="text or json")]
RulesOption = Annotated[list[FsPath] | None,
                        typer.Option("--rules", help="Rule files or folders (default: configured)")]


@app.callback()
def main_callback(
    ctx: typer.Context,
    config: Annotated[str | None, typer.Option(
        "--config", envvar="DESPACHO_CONFIG",
        help="Config file (default: ./config.yaml, else config.example.yaml)")] = None,
) -> None:
    ctx.obj = {"config": config}


@app.command()
def validate(
    ctx: typer.Context,
    paths: Annotated[list[FsPath] | None, typer.Argument(help="Rule files or folders")] = None,
    output: FormatOption = OutputFormat.text,
    strict: Annotated[bool, typer.Option(
        "--strict", help="Warnings (unknown event types and data fields) fail too: for CI")] = False,
) -> None:
    """Check rule files; print every problem as FILE:LINE:COL: PATH: [warning:] MESSAGE."""
    from engine.language.loader import load_rules

    settings = settings_from(ctx)
    result = load_rules(paths or [settings.rules.path], settings.templates.path,
                        http_settings=settings.connectors.http)
    ok = result.ok and not (strict and result.warnings)
    if output is OutputFormat.json:
        console.print(out.to_json({
            "ok": ok,
            "rules": len(result.ruleset),
            "problems": [p.to_dict() for p in result.everything],
        }), soft_wrap=True)
    elif result.everything:
        out.print_problems(console, result.everything)
        console.print(out.problems_summary(result.everything))
    else:
        files = len(result.ruleset.files)
        console.print(f"ok: {len(result.ruleset)} rules in {files} file{'s' if files != 1 else ''}")
    raise typer.Exit(EXIT_OK if ok else EXIT_PROBLEMS)


def _dry_run_for(settings: Settings, rules: list[FsPath] | None) -> DryRun:
    from engine.language.dryrun import DryRun
    from engine.language.loader import load_rules
    from engine.language.templating import TemplateStore

    result = load_rules(rules or [settings.rules.path], settings.templates.path,
                        http_settings=settings.connectors.http)
    if result.problems:
        out.print_problems(stderr, result.problems)
        fail(f"the rules have problems: {out.problems_summary(result.problems)}", EXIT_PROBLEMS)
    return DryRun(result.ruleset, TemplateStore(settings.templates.path), settings.public_view())


@app.command("dry-run")
def dry_run(
    ctx: typer.Context,
    events: Annotated[str | None, typer.Argument(
        help="JSON or YAML file of events, JSON lines, or -")] = None,
    rules: RulesOption = None,
    now: Annotated[datetime | None, typer.Option(help="Evaluate as if it were this time")] = None,
    rule: Annotated[str | None, typer.Option(
        "--rule", help="A scheduled rule to evaluate against the database (with --at)")] = None,
    at: Annotated[datetime | None, typer.Option(
        "--at", help="Fire time for --rule (default: now; naive means the configured zone)")] = None,
    output: FormatOption = OutputFormat.text,
) -> None:
    """Show which rules an event matches, why, and what they would do. Nothing is sent."""
    settings = settings_from(ctx)
    runner = _dry_run_for(settings, rules)
    if (events is None) == (rule is None):
        fail("give an EVENTS file, or --rule ID (with --at) for a scheduled rule", EXIT_USAGE)
    notes: list[str] = []
    if rule is not None:
        previews = _scheduled_previews(runner, settings, rule, at, notes)
    else:
        previews = runner.run(_read_events_or_exit(events or "-"), _aware(now, "UTC"))
    if output is OutputFormat.json:
        console.print(out.to_json({"results": [p.to_dict() for p in previews], "notes": notes}),
                      soft_wrap=True)
    else:
        out.print_previews(console, previews, notes)


def _read_events_or_exit(source: str) -> list[Event]:
    from engine.errors import EventInputError
    from engine.language.events import read_events

    try:
        return read_events(source)
    except EventInputError as exc:
        out.print_problems(stderr, exc.problems)
        fail(f"invalid events: {out.problems_summary(exc.problems)}", EXIT_PROBLEMS)


def _scheduled_previews(runner: DryRun, settings: Settings, rule_id: str, at: datetime | None,
                        notes: list[str]) -> list[EventPreview]:
    """The evaluations of a scheduled rule fired at AT; NOTES say when it would not fire or run."""
    from engine.language.problems import did_you_mean
    from engine.runtime.scheduled import fire_events, query_rows, records_at

    compiled = runner.ruleset.by_id.get(rule_id)
    if compiled is None:
        hint = did_you_mean(rule_id, runner.ruleset.by_id) or ""
        fail(f"no rule '{rule_id}' {hint}".strip(), EXIT_USAGE)
    if not compiled.schedules:
        fail(f"rule '{rule_id}' has no cron or every trigger", EXIT_PROBLEMS)
    fire_at = _aware(at, settings.timezone) or datetime.now(ZoneInfo(settings.timezone))
    events: list[Event] = []
    # Only a for_each query needs the database: a plain schedule previews without one.
    needs_database = (any(trigger.for_each for trigger in compiled.schedules)
                      or any(action.uses == "records.query" for action in compiled.actions))
    with open_session(settings.database.url) if needs_database else nullcontext(None) as session:
        for trigger in compiled.schedules:
            notes.extend(_fire_notes(trigger, settings.timezone, fire_at))
            try:
                rows = query_rows(session, compiled, trigger, fire_at)
            except ValueError as exc:
                fail(str(exc), EXIT_PROBLEMS)
            if rows == []:
                notes.append(f"the query '{trigger.for_each}' returns no rows at {fire_at.isoformat()}: "
                             f"rule '{rule_id}' would not run")
            events.extend(fire_events(compiled, trigger, fire_at, rows)[1])
        if session is not None:
            try:
                runner = runner.with_records(records_at(session, compiled, fire_at))
            except ValueError as exc:
                fail(str(exc), EXIT_PROBLEMS)
    return [runner.preview_rules(event, [compiled], fire_at) for event in events]


def _fire_notes(trigger: CronTrigger | EveryTrigger, zone: str, at: datetime) -> list[str]:
    """A note when the trigger does not fire at AT, with the time it fires next."""
    from engine.language.models import CronTrigger
    from engine.runtime.scheduler import aps_trigger

    schedule = f"cron '{trigger.cron}'" if isinstance(trigger, CronTrigger) else f"every {trigger.every}"
    following = aps_trigger(trigger, zone).get_next_fire_time(None, at)
    if following == at:
        return []
    after = f"; it next fires at {following.isoformat()}" if following else "; it never fires again"
    return [f"{schedule} does not fire at {at.isoformat()}{after} (evaluated as if it did)"]


def _aware(moment: datetime | None, zone: str) -> datetime | None:
    if moment is None or moment.tzinfo is not None:
        return moment
    return moment.replace(tzinfo=ZoneInfo(zone))


@app.command("test")
def test_rules(
    ctx: typer.Context,
    paths: Annotated[list[FsPath] | None, typer.Argument(help="Test files or folders")] = None,
    rules: RulesOption = None,
    junit: Annotated[FsPath | None, typer.Option(help="Also write a JUnit XML report here")] = None,
) -> None:
    """Run the rule unit tests (default: the rules folder's tests/)."""
    from engine.language.ruletests import discover_tests, run_tests

    settings = settings_from(ctx)
    runner = _dry_run_for(settings, rules)
    files = discover_tests(paths or [FsPath(settings.rules.path) / "tests"])
    if not files:
        fail("no rule test files found", EXIT_PROBLEMS)
    report = run_tests(files, runner)
    out.print_report(console, report)
    if junit:
        out.write_junit(report, junit)
    raise typer.Exit(EXIT_OK if report.ok else EXIT_PROBLEMS)


@app.command()
def schema(
    check: Annotated[bool, typer.Option("--check", help="Fail when the files are stale")] = False,
    folder: Annotated[FsPath, typer.Option("--dir", help="Where the schemas live")] = FsPath("schemas"),
    docs: Annotated[FsPath, typer.Option("--events-doc", help="The event catalogue page")] = FsPath(
        "docs/events.md"),
) -> None:
    """Write schemas/rules.schema.json, config.schema.json, events/*.schema.json, docs/events.md and the
    event schemas bundled with the package (engine/language/domain_event_schemas.json)."""
    from engine.language.catalogue import BUNDLE, bundle_is_stale, write_bundle
    from engine.language.schema import stale_schemas, write_schemas

    if check:
        stale = stale_schemas(folder, docs) + ([BUNDLE] if bundle_is_stale() else [])
        for path in stale:
            console.print(f"{path}: stale or missing (run 'despacho schema')")
        raise typer.Exit(EXIT_PROBLEMS if stale else EXIT_OK)
    for path in [*write_schemas(folder, docs), write_bundle()]:
        console.print(f"wrote {path}")


app.add_typer(db_app, name="db")
ops_commands.register(app)
api_commands.register(app)
check_commands.register(app)
runs_commands.register(app)
calendar_commands.register(app)
plan_commands.register(app)
sync_commands.register(app)
accounting_commands.register(app)
backup_commands.register(app)
import_commands.register(app)
flags_commands.register(app)
user_commands.register(app)
privacy_commands.register(app)


# The root's options that take a value: what follows them is not a command's name.
_ROOT_VALUE_OPTIONS = frozenset({"--config"})


def _command_named(argv: list[str]) -> str | None:
    args = iter(argv)
    for arg in args:
        if arg in _ROOT_VALUE_OPTIONS:
            next(args, None)
        elif not arg.startswith("-"):
            return arg
    return None


def app_for(argv: list[str]) -> typer.Typer:
    """The app with only the command the command line names, when it names one.

    Typer builds every command's parameters, reading the type hints of some 130 functions
    (40 ms), before it runs one; the full app still answers ``--help`` and an unknown name.
    """
    name = _command_named(argv)
    commands = [c for c in app.registered_commands
                if (c.name or typer.main.get_command_name(c.callback.__name__ if c.callback else "")) == name]
    groups = [g for g in app.registered_groups if g.name == name]
    if not commands and not groups:
        return app
    narrowed = copy.copy(app)
    narrowed.registered_commands = commands
    narrowed.registered_groups = groups
    return narrowed


def main() -> None:
    sys.exit(app_for(sys.argv[1:])())
