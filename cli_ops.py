"""Commands that run despacho: run, worker, scheduler, emit, dlq, status."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.exc import SQLAlchemyError

import cli_output as out
from api.embedded import ApiThread
from engine.errors import EventInputError, RuleSetError
from engine.language.event_input import Limits, parse_payload
from engine.language.events import Event
from engine.runtime import deadletters
from engine.runtime.daemon import Daemon, Parts
from engine.runtime.intake import accept_events
from engine.runtime.logs import configure
from engine.runtime.status import read_status
from engine.settings import Settings
from store.db import make_engine, session_scope, unreachable
from store.errors import NotFound

EXIT_PROBLEMS, EXIT_USAGE = 1, 2
console = Console(highlight=False, soft_wrap=True)
errors = Console(stderr=True, highlight=False, soft_wrap=True)
dlq_app = typer.Typer(help="Dead letters: steps that failed for good.", no_args_is_help=True)


def _settings(ctx: typer.Context) -> Settings:
    return out.settings_or_exit(ctx)


def _fail(message: str, code: int = EXIT_PROBLEMS) -> NoReturn:
    errors.print(message)
    raise typer.Exit(code)


def _daemon(settings: Settings, parts: Parts) -> Daemon:
    configure(settings.execution.log_level)
    try:
        return Daemon(settings, parts)
    except RuleSetError as exc:
        out.print_problems(errors, exc.problems)
        _fail(f"the rules have problems: {out.problems_summary(exc.problems)}")


def run(ctx: typer.Context) -> None:
    """The all-in-one daemon: API, relay, workers, scheduler and rule reloads, until Ctrl-C or SIGTERM."""
    settings = _settings(ctx)
    daemon = _daemon(settings, Parts())
    daemon.extras.append(ApiThread(settings, daemon.pipeline, daemon.wake))
    console.print(f"despacho is running: API on http://{settings.api.host}:{settings.api.port} "
                  f"(docs at /docs), rules from {settings.rules.path}/. Ctrl-C stops it.")
    daemon.serve_forever()


def worker(
    ctx: typer.Context,
    processes: Annotated[int, typer.Option(help="Worker processes")] = 1,
    threads: Annotated[int | None, typer.Option(help="Threads per process (default: config)")] = None,
) -> None:
    """Production workers: run steps from the Redis queue (each process also relays and reaps)."""
    settings = _settings(ctx)
    if settings.broker.url.startswith("stub://"):
        _fail("'despacho worker' needs a shared broker (broker.url: redis://...); "
              "the embedded default runs its workers inside 'despacho run'", EXIT_USAGE)
    if threads:
        settings.execution.worker_threads = threads
    parts = Parts(scheduler=False, watch_rules=True)
    if processes == 1:
        _daemon(settings, parts).serve_forever()
        return
    context = multiprocessing.get_context("spawn")
    children = [context.Process(target=_worker_process, args=(settings, parts)) for _ in range(processes)]
    for child in children:
        child.start()
    for child in children:
        child.join()


def _worker_process(settings: Settings, parts: Parts) -> None:
    _daemon(settings, parts).serve_forever()


def scheduler(ctx: typer.Context) -> None:
    """Fire cron/every triggers; several may run, one leads (Redis lock) and each fire happens once."""
    settings = _settings(ctx)
    _daemon(settings, Parts(relay=False, workers=False, scheduler=True)).serve_forever()


def emit(
    ctx: typer.Context,
    event_type: Annotated[str, typer.Argument(metavar="TYPE", help="Event type, e.g. invoice.paid")],
    data: Annotated[str, typer.Option(help="JSON payload, or @file with JSON")] = "{}",
    event_id: Annotated[str | None, typer.Option("--id", help="Event id (default: a new one)")] = None,
    source: Annotated[str, typer.Option(help="Who sent it")] = "cli",
) -> None:
    """Store an event; the running daemon picks it up (it need not be running now)."""
    settings = _settings(ctx)
    try:  # the limits of every intake: the API's body size, nesting depth, no NaN or NUL
        payload = parse_payload(_payload(data), Limits(max_bytes=settings.api.max_body_bytes),
                                data[1:] if data.startswith("@") else "--data")
    except EventInputError as exc:
        _fail(f"invalid event: {out.problem_line(exc.problems[0])}", EXIT_USAGE)
    fields: dict[str, Any] = {"type": event_type, "data": payload, "source": source}
    if event_id:
        fields["id"] = event_id
    try:
        event = Event.model_validate(fields)
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        _fail(f"invalid event: {'.'.join(map(str, first['loc']))}: {first['msg']}", EXIT_USAGE)
    db = make_engine(settings.database.url)
    try:
        with session_scope(db) as session:
            (accepted,) = accept_events(session, [event])
    except SQLAlchemyError as exc:
        reason = str(getattr(exc, "orig", None) or exc).splitlines()[0]
        _fail(f"cannot store the event: the database is unreachable ({reason}); check database.url"
              if unreachable(exc) else
              f"cannot store the event: {reason} (is the database migrated? run 'despacho db upgrade')")
    finally:
        db.dispose()
    state = "stored" if accepted.stored else "already stored (same id): nothing changed"
    console.print(f"{accepted.id} {state}")


def _payload(data: str) -> str:
    try:
        return Path(data[1:]).read_text(encoding="utf-8") if data.startswith("@") else data
    except (OSError, UnicodeDecodeError) as exc:
        _fail(f"cannot read {data[1:]}: {getattr(exc, 'strerror', None) or exc}", EXIT_USAGE)


def status(ctx: typer.Context) -> None:
    """Counters per connector (completed, failed, retried, dead), the relay backlog, open dead letters."""
    settings = _settings(ctx)
    with _session(settings) as session:
        current = read_status(session)
    table = Table("connector", "completed", "failed", "retried", "dead", "queued", "running")
    for name, counters in sorted(current.connectors.items()):
        table.add_row(name, *(str(v) for v in (counters.completed, counters.failed, counters.retried,
                                               counters.dead, counters.queued, counters.running)))
    console.print(table)
    console.print(f"events waiting for the relay: {current.undispatched_events}")
    console.print(f"open dead letters: {current.open_dead_letters}")


class _session:
    def __init__(self, settings: Settings) -> None:
        self.db = make_engine(settings.database.url)
        self.scope = session_scope(self.db)

    def __enter__(self):
        return self.scope.__enter__()

    def __exit__(self, *exc_info: Any) -> None:
        try:
            self.scope.__exit__(*exc_info)
        finally:
            self.db.dispose()
        if exc_info[0] is not None and issubclass(exc_info[0], SQLAlchemyError):
            _fail(f"database error: {str(exc_info[1]).splitlines()[0]} (run 'despacho db upgrade'?)")


@dlq_app.command("list")
def dlq_list(ctx: typer.Context,
             all_: Annotated[bool, typer.Option("--all", help="Include resolved ones")] = False) -> None:
    """Dead letters, newest first."""
    with _session(_settings(ctx)) as session:
        letters = deadletters.list_dead_letters(session, include_resolved=all_)
        table = Table("id", "when", "rule", "action", "attempts", "error", "resolution")
        for letter in letters:
            table.add_row(letter.id, letter.created_at.isoformat(timespec="seconds"), letter.rule_id,
                          letter.action, str(letter.attempts), (letter.error or "")[:80],
                          letter.resolution or "")
    console.print(table)


@dlq_app.command("show")
def dlq_show(ctx: typer.Context, dead_letter_id: Annotated[str, typer.Argument(metavar="ID")]) -> None:
    """One dead letter with its step and run."""
    with _session(_settings(ctx)) as session:
        try:
            view = deadletters.show(session, dead_letter_id)
        except NotFound as exc:
            _fail(str(exc))
        console.print(out.to_json({
            "dead_letter": view.letter.model_dump(mode="json"),
            "step": view.step.model_dump(mode="json"),
            "run": view.run.model_dump(mode="json"),
        }))


@dlq_app.command("retry")
def dlq_retry(ctx: typer.Context, ids: Annotated[list[str], typer.Argument(metavar="ID...")]) -> None:
    """Run the steps again with their original context (the daemon picks them up)."""
    with _session(_settings(ctx)) as session:
        try:
            steps = deadletters.retry(session, ids, actor="cli")
        except NotFound as exc:
            _fail(str(exc))
    console.print(f"{len(steps)} step(s) queued again")


@dlq_app.command("discard")
def dlq_discard(ctx: typer.Context, ids: Annotated[list[str], typer.Argument(metavar="ID...")]) -> None:
    """Mark dead letters as handled without running them."""
    with _session(_settings(ctx)) as session:
        try:
            count = deadletters.discard(session, ids, actor="cli")
        except NotFound as exc:
            _fail(str(exc))
    console.print(f"{count} dead letter(s) discarded")


def register(app: typer.Typer) -> None:
    app.command()(run)
    app.command()(worker)
    app.command()(scheduler)
    app.command()(emit)
    app.command()(status)
    app.add_typer(dlq_app, name="dlq")


