"""Commands that run despacho: run, worker, scheduler, emit, dlq, status."""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from commands.common import (
    EXIT_PROBLEMS,
    EXIT_USAGE,
    FormatFlag,
    config_in_use,
    console,
    database_errors,
    fail,
    open_session,
    settings_from,
    shown,
    stderr,
    wants_json,
)
from commands.output import plain, print_json, print_problems, print_table, problems_summary

if TYPE_CHECKING:
    from sqlmodel import Session

    from engine.language.events import Event
    from engine.runtime.daemon import Daemon, Parts
    from engine.runtime.intake import Accepted
    from engine.runtime.rollout import DaemonView
    from engine.runtime.rulehealth import RulesHealth
    from engine.settings import Settings

dlq_app = typer.Typer(help="Dead letters: steps that failed for good.", no_args_is_help=True)


def _daemon(settings: Settings, parts: Parts, config: str) -> Daemon:
    """The daemon, its logs configured; its first log line says which config and database it uses."""
    import structlog

    from engine.errors import RuleSetError
    from engine.runtime.daemon import Daemon
    from engine.runtime.logs import configure
    from store.errors import NoSuchDatabase

    configure(settings.execution.log_level)
    structlog.get_logger("despacho").info("despacho_config", config=config,
                                          database=shown(settings.database.url))
    try:
        return Daemon(settings, parts)
    except RuleSetError as exc:
        print_problems(stderr, exc.problems)
        fail(f"the rules have problems: {problems_summary(exc.problems)}", EXIT_PROBLEMS)
    except NoSuchDatabase as exc:
        fail(f"config: {config}, database: {shown(settings.database.url)} — {exc}", EXIT_PROBLEMS)


def run(ctx: typer.Context) -> None:
    """The all-in-one daemon: API, relay, workers, scheduler and rule reloads, until Ctrl-C or SIGTERM."""
    import structlog

    from api.embedded import ApiThread
    from engine.runtime.daemon import Parts

    settings = settings_from(ctx)
    daemon = _daemon(settings, Parts(), config_in_use(settings))
    daemon.extras.append(ApiThread(daemon.core))
    # a log line, not a print: `despacho run 2>&1 | jq ...` must read JSON only
    structlog.get_logger("despacho").info(
        "despacho_running", api=f"http://{settings.api.host}:{settings.api.port}", docs="/docs",
        rules=str(settings.rules.path), stop="Ctrl-C or SIGTERM")
    daemon.serve_forever()


def worker(
    ctx: typer.Context,
    processes: Annotated[int, typer.Option(help="Worker processes")] = 1,
    threads: Annotated[int | None, typer.Option(help="Threads per process (default: config)")] = None,
) -> None:
    """Production workers: run steps from the Redis or RabbitMQ queue (each process also relays and reaps)."""
    from engine.runtime.daemon import Parts

    settings = settings_from(ctx)
    if settings.broker.url.startswith("stub://"):
        fail("'despacho worker' needs a shared broker (broker.url: redis://... or amqp://...); "
             "the embedded default runs its workers inside 'despacho run'", EXIT_USAGE)
    if threads:
        settings.execution.worker_threads = threads
    parts = Parts(scheduler=False, watch_rules=True)
    if processes == 1:
        serve_worker_metrics(settings, 0)
        _daemon(settings, parts, config_in_use(settings)).serve_forever()
        return
    _supervise(settings, parts, processes, config_in_use(settings))


def serve_worker_metrics(settings: Settings, number: int) -> int | None:
    """Serve this worker process's engine metrics on ``execution.metrics_port`` + ``number``; the port."""
    from prometheus_client import start_http_server

    from engine.runtime.metrics import REGISTRY

    base = settings.execution.metrics_port
    if base is None:
        return None
    port = base + number
    try:
        start_http_server(port, addr=settings.execution.metrics_address, registry=REGISTRY)
    except OSError as exc:
        fail(f"execution.metrics_port: cannot listen on {settings.execution.metrics_address}:{port} "
             f"({exc.strerror})", EXIT_USAGE)
    return port


def _supervise(settings: Settings, parts: Parts, processes: int, config: str) -> None:
    """Start the worker processes; SIGTERM or Ctrl-C here stops them all cleanly, not just this one."""
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_worker_process, args=(settings, parts, config, number))
                for number in range(processes)]
    for child in children:
        child.start()

    def forward(signum: int, _frame: object) -> None:
        for child in children:
            if child.pid is not None and child.is_alive():
                os.kill(child.pid, signal.SIGTERM)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for child in children:
        child.join()


def _worker_process(settings: Settings, parts: Parts, config: str, number: int) -> None:
    serve_worker_metrics(settings, number)
    _daemon(settings, parts, config).serve_forever()


def scheduler(ctx: typer.Context) -> None:
    """Fire cron/every triggers; several may run, one leads (Redis lock) and each fire happens once."""
    from engine.runtime.daemon import Parts

    settings = settings_from(ctx)
    parts = Parts(relay=False, workers=False, scheduler=True)
    _daemon(settings, parts, config_in_use(settings)).serve_forever()


def emit(
    ctx: typer.Context,
    event_type: Annotated[str | None, typer.Argument(
        metavar="[TYPE]", help="Event type, e.g. invoice.paid (or --file)")] = None,
    data: Annotated[str, typer.Option(help="JSON payload, or @file with JSON")] = "{}",
    event_id: Annotated[str | None, typer.Option("--id", help="Event id (default: a new one)")] = None,
    source: Annotated[str, typer.Option(help="Who sent it")] = "cli",
    file: Annotated[str | None, typer.Option(
        "--file", help="Events to replay: a file as dry-run reads it (YAML/JSON list, JSON lines, -)",
    )] = None,
) -> None:
    """Store an event, or every event of --file; the running daemon picks them up (it need not run now)."""
    settings = settings_from(ctx)
    if file is not None:
        if event_type is not None or data != "{}" or event_id is not None or source != "cli":
            fail("--file takes the type, id, source and data of each event from the file: "
                 "give no TYPE, --data, --id or --source with it", EXIT_USAGE)
        _emit_file(settings, file)
        return
    if event_type is None:
        fail("give the event TYPE (e.g. 'despacho emit invoice.paid --data ...'), or --file FILE",
             EXIT_USAGE)
    (accepted,) = _store(settings, [_one_event(settings, event_type, data, event_id, source)])
    state = "stored" if accepted.stored else "already stored (same id): nothing changed"
    console.print(plain(f"{accepted.id} {state}"), markup=False)


def _one_event(settings: Settings, event_type: str, data: str, event_id: str | None, source: str) -> Event:
    from pydantic import ValidationError

    from commands.output import problem_line
    from engine.errors import EventInputError
    from engine.language.event_input import Limits, parse_payload
    from engine.language.events import Event

    try:  # the limits of every intake: the API's body size, nesting depth, no NaN or NUL
        payload = parse_payload(_payload(data), Limits(max_bytes=settings.api.max_body_bytes),
                                data[1:] if data.startswith("@") else "--data")
    except EventInputError as exc:
        fail(f"invalid event: {problem_line(exc.problems[0])}", EXIT_USAGE)
    fields: dict[str, Any] = {"type": event_type, "data": payload, "source": source}
    if event_id:
        fields["id"] = event_id
    try:
        return Event.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        fail(f"invalid event: {'.'.join(map(str, first['loc']))}: {first['msg']}", EXIT_USAGE)


def _emit_file(settings: Settings, source: str) -> None:
    """Every event of the file or none: one refused event stores nothing (a replay is all or nothing)."""
    from engine.errors import EventInputError
    from engine.language.events import read_events

    try:
        events = read_events(source)
    except EventInputError as exc:
        print_problems(stderr, exc.problems)
        fail(f"invalid events: {problems_summary(exc.problems)}; nothing was stored", EXIT_PROBLEMS)
    if not events:
        fail(f"{source}: no events in the file; nothing was stored", EXIT_PROBLEMS)
    too_big = _too_large(events, settings.api.max_body_bytes, source)
    if too_big:
        for line in too_big:
            stderr.print(plain(line), markup=False)
        fail(f"invalid events: {len(too_big)} too large; nothing was stored", EXIT_PROBLEMS)
    results = _store(settings, events)
    seen: set[str] = set()
    for event, accepted in zip(events, results, strict=True):
        state = "stored" if accepted.stored else \
            "same id as an earlier event in this file: not stored" if event.id in seen else \
            "already stored (same id): nothing changed"
        seen.add(event.id)
        console.print(plain(f"{event.id} {event.type} {state}"), markup=False)
    stored = sum(accepted.stored for accepted in results)
    console.print(f"{stored} of {len(events)} event{'s' if len(events) != 1 else ''} stored", markup=False)


def _too_large(events: list[Event], limit: int, source: str) -> list[str]:
    """The events whose data is over ``limit`` bytes: what 'emit --data' and the API refuse."""
    found = []
    for index, event in enumerate(events):
        size = len(json.dumps(event.data, ensure_ascii=False, default=str).encode())
        if size > limit:
            found.append(f"{source}: [{index}] (id {event.id}): data is {size} bytes; "
                         f"at most {limit} are accepted")
    return found


def _store(settings: Settings, events: list[Event]) -> list[Accepted]:
    """Store the events in one transaction: all of them, or none when the database fails."""
    from sqlalchemy.exc import SQLAlchemyError

    from engine.runtime.intake import accept_events
    from store.db import make_engine, session_scope, unreachable

    with database_errors(settings.database.url):
        db = make_engine(settings.database.url)
    try:
        with session_scope(db) as session:
            return accept_events(session, events)
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        fail(f"cannot store the event: the database is unreachable ({reason}); check database.url"
             if unreachable(exc) else
             f"cannot store the event: {reason} (is the database migrated? run 'despacho db upgrade')",
             EXIT_PROBLEMS)
    finally:
        db.dispose()


def _payload(data: str) -> str:
    try:
        return Path(data[1:]).read_text(encoding="utf-8") if data.startswith("@") else data
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {data[1:]}: {getattr(exc, 'strerror', None) or exc}", EXIT_USAGE)


def status(ctx: typer.Context, output: FormatFlag = "text") -> None:
    """Counters per connector (completed, failed, retried, dead, held), the relay backlog, dead letters."""
    from dataclasses import asdict

    from rich.table import Table

    from engine.runtime.rulehealth import rules_health
    from engine.runtime.status import read_status

    settings = settings_from(ctx)
    as_json = wants_json(output)
    with open_session(settings.database.url) as session:
        current = read_status(session)
        current.rules = rules_health(session, settings.rules.path, settings.templates.path,
                                     settings.connectors.http)
    if as_json:
        print_json(console, asdict(current))
        return
    table = Table("connector", "completed", "failed", "retried", "dead", "queued", "running", "held")
    for name, counters in sorted(current.connectors.items()):
        table.add_row(name, *(str(v) for v in (counters.completed, counters.failed, counters.retried,
                                               counters.dead, counters.queued, counters.running,
                                               counters.held)))
    print_table(console, table)
    console.print(f"events waiting for the relay: {current.undispatched_events}")
    console.print(f"open dead letters: {current.open_dead_letters}")
    earliest = f" (the earliest until {current.held_until.isoformat()})" if current.held_until else ""
    console.print(f"held runs: {current.held_runs}{earliest}")
    _print_rules(current.rules)
    _print_daemons(current.daemons)


def _print_daemons(daemons: list[DaemonView]) -> None:
    """Each daemon's rules in force, and a newer set its files offer (waiting for the others, or refused)."""
    if not daemons:
        return
    from rich.table import Table

    table = Table("daemon", "runs", "rules in force", "since", "offered", "seen")
    for d in daemons:
        offered = f"{d.offered} ({d.offered_state})" if d.offered else "-"
        table.add_row(d.id, d.parts, d.version, d.since.isoformat(timespec="seconds"), offered,
                      d.seen_at.isoformat(timespec="seconds") + ("" if d.live else " (gone)"))
    print_table(console, table)
    for d in daemons:
        for line in d.problems[:5]:
            console.print(f"  {d.id}: {line}")


def _print_rules(health: RulesHealth | None) -> None:
    if health is None:
        return
    if health.state == "ok":
        console.print(f"rules: ok, version {health.version} ({health.rules} rules)")
        return
    if health.state == "degraded":
        when = health.accepted_at.isoformat(timespec="seconds") if health.accepted_at else "?"
        console.print(f"rules: DEGRADED: the rule files do not load ({health.problem_count} problems); "
                      f"daemons run the last accepted set, version {health.version} (accepted {when})")
    else:
        console.print(f"rules: REFUSED: the rule files do not load ({health.problem_count} problems) and "
                      "no rule set was ever accepted: daemons will not start")
    for line in health.problems:
        console.print(f"  {line}")
    console.print("  (fix the files; `despacho validate` lists every problem)")


@dlq_app.command("list")
def dlq_list(ctx: typer.Context,
             all_: Annotated[bool, typer.Option("--all", help="Include resolved ones")] = False,
             output: FormatFlag = "text") -> None:
    """Dead letters, newest first."""
    from rich.table import Table
    from rich.text import Text

    from engine.runtime import deadletters

    as_json = wants_json(output)
    with open_session(settings_from(ctx).database.url) as session:
        letters = deadletters.list_dead_letters(session, include_resolved=all_)
        if as_json:
            print_json(console, {"dead_letters": [letter.model_dump(mode="json") for letter in letters]})
            return
        table = Table("id", "when", "rule", "action", "attempts", "error", "resolution")
        for letter in letters:
            cells = (letter.id, letter.created_at.isoformat(timespec="seconds"), letter.rule_id,
                     letter.action, str(letter.attempts), (letter.error or "")[:80], letter.resolution or "")
            table.add_row(*(Text(plain(cell)) for cell in cells))
    print_table(console, table)


@dlq_app.command("show")
def dlq_show(ctx: typer.Context, dead_letter_id: Annotated[str, typer.Argument(metavar="ID")],
             output: FormatFlag = "json") -> None:
    """One dead letter with its step and run (JSON; an id or a unique prefix of one)."""
    from engine.runtime import deadletters

    wants_json(output)  # JSON is its only form; --format is accepted like on the other commands
    with open_session(settings_from(ctx).database.url) as session:  # an unknown id: NotFound, exit 1
        view = deadletters.show(session, _dead_letter_ids(session, [dead_letter_id])[0])
        print_json(console, {
            "dead_letter": view.letter.model_dump(mode="json"),
            "step": view.step.model_dump(mode="json"),
            "run": view.run.model_dump(mode="json"),
        })


@dlq_app.command("retry")
def dlq_retry(ctx: typer.Context, ids: Annotated[list[str], typer.Argument(metavar="ID...")]) -> None:
    """Run the steps again with their original context (the daemon picks them up)."""
    from engine.runtime import deadletters
    from engine.runtime.outbox import Transaction

    with open_session(settings_from(ctx).database.url) as session:
        steps = deadletters.retry(Transaction(session), _dead_letter_ids(session, ids), actor="cli")
    console.print(f"{len(steps)} step(s) queued again")


@dlq_app.command("discard")
def dlq_discard(ctx: typer.Context, ids: Annotated[list[str], typer.Argument(metavar="ID...")]) -> None:
    """Mark dead letters as handled without running them."""
    from engine.runtime import deadletters

    with open_session(settings_from(ctx).database.url) as session:
        count = deadletters.discard(session, _dead_letter_ids(session, ids), actor="cli")
    console.print(f"{count} dead letter(s) discarded")


def _dead_letter_ids(session: Session, typed: list[str]) -> list[str]:
    """Full ids from ids or unique prefixes; one unknown or ambiguous id stops the command unchanged."""
    from sqlmodel import col

    from store.models.runs import DeadLetter
    from store.prefixes import resolve_prefixes

    return resolve_prefixes(session, col(DeadLetter.id), typed, DeadLetter.entity,
                            col(DeadLetter.deleted_at).is_(None))


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(worker)
    app.command()(scheduler)
    app.command()(emit)
    app.command()(status)
    app.add_typer(dlq_app, name="dlq")
