"""``despacho runs``: what the rules did — the runs, and one run's trace step by step."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from commands.common import EXIT_USAGE, FormatFlag, console, fail, open_session, settings_from, wants_json
from commands.output import plain, print_json, print_table

if TYPE_CHECKING:
    from datetime import datetime

    from store.models.runs import DeadLetter, RuleRun, RuleStep
    from store.run_views import RunView

runs_app = typer.Typer(help="Rule runs: what each rule did with each event, and why.", no_args_is_help=True)


@runs_app.command("list")
def list_runs(
    ctx: typer.Context,
    rule: Annotated[str | None, typer.Option("--rule", metavar="ID", help="Only this rule's runs")] = None,
    event: Annotated[str | None, typer.Option(
        "--event", metavar="ID", help="Only the runs of this event (id or unique prefix)")] = None,
    status: Annotated[str | None, typer.Option(
        "--status", metavar="S", help="planned, held, running, succeeded, failed or skipped")] = None,
    limit: Annotated[int, typer.Option(min=1, max=200, help="At most this many, newest first")] = 50,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of a previous --format json page")] = None,
    output: FormatFlag = "text",
) -> None:
    """Runs, newest first: rule, event, status, and why one was skipped or held."""
    from store.models.events import Event
    from store.models.runs import RUN_STATUSES
    from store.prefixes import resolve_prefix
    from store.run_views import list_runs as query

    as_json = wants_json(output)
    if status is not None and status not in RUN_STATUSES:
        fail(f"--status must be one of {', '.join(RUN_STATUSES)}, not '{status}'", EXIT_USAGE)
    with open_session(settings_from(ctx).database.url) as session:
        event_id = resolve_prefix(session, Event.id, event, Event.entity) if event else None
        page = query(session, rule_id=rule, event_id=event_id, status=status, limit=limit, cursor=cursor)
        rows = [run_summary(run) for run in page.items]
    if as_json:
        print_json(console, {"runs": rows, "next_cursor": page.next_cursor})
        return
    _print_runs(rows, page.next_cursor)


def _print_runs(rows: list[dict[str, Any]], next_cursor: str | None) -> None:
    from rich.table import Table
    from rich.text import Text

    table = Table("id", "created (UTC)", "rule", "event", "status", "why")
    for row in rows:
        cells = (row["id"], row["created_at"][:19], row["rule_id"], row["event_id"] or "-", row["status"],
                 _why(row))
        table.add_row(*(Text(plain(cell)) for cell in cells))
    print_table(console, table)
    if next_cursor:
        console.print(f"more: --cursor {next_cursor}", markup=False)


def _why(row: dict[str, Any]) -> str:
    if row["status"] == "held":
        if not row["held_until"]:  # a queued run: its reason already says what it waits for
            return row["hold_reason"] or "until the rule's active run ends"
        until = f"until {row['held_until'][:19]}"
        return f"{until}: {row['hold_reason']}" if row["hold_reason"] else until
    return row["skip_reason"] or ""


@runs_app.command("show")
def show_run(
    ctx: typer.Context,
    run_id: Annotated[str, typer.Argument(metavar="RUN", help="A run id or a unique prefix of one")],
    output: FormatFlag = "text",
) -> None:
    """One run: its event, rule set, condition trace, then each step's params, output, error and timings."""
    from store.run_views import resolve_run_id, run_view

    as_json = wants_json(output)
    with open_session(settings_from(ctx).database.url) as session:  # unknown: not found, exit 1
        detail = run_detail(run_view(session, resolve_run_id(session, run_id)))
    if as_json:
        print_json(console, detail)
        return
    _print_detail(detail)


# --- the data both formats show -----------------------------------------------------------------

def run_summary(run: RuleRun) -> dict[str, Any]:
    return {"id": run.id, "rule_id": run.rule_id, "event_id": run.event_id, "status": run.status,
            "skip_reason": run.skip_reason, "held_until": _time(run.held_until),
            "hold_reason": run.hold_reason, "ruleset_version": run.ruleset_version,
            "created_at": _time(run.created_at), "started_at": _time(run.started_at),
            "finished_at": _time(run.finished_at)}


def run_detail(view: RunView) -> dict[str, Any]:
    event = view.event
    return {
        **run_summary(view.run),
        "dedupe_key": view.run.dedupe_key,
        "throttle_key": view.run.throttle_key,
        "event": None if event is None else {"id": event.id, "type": event.type, "source": event.source,
                                             "occurred_at": _time(event.occurred_at)},
        # None: planned before runs kept their trace (or by no rule: a relay failure)
        "conditions": None if view.run.trace is None else list(view.run.trace.get("conditions", [])),
        "steps": [_step(step, view.dead_letters.get(step.id)) for step in view.steps],
    }


def _step(step: RuleStep, letter: DeadLetter | None) -> dict[str, Any]:
    return {"id": step.id, "position": step.position, "key": step.step_key, "action": step.action,
            "fallback_of": step.fallback_of, "status": step.status, "attempts": step.attempts,
            "max_attempts": step.max_attempts, "params": step.params, "output": step.output,
            "error": step.last_error, "error_code": step.error_code, "hold_reason": step.hold_reason,
            "not_before": _time(step.not_before), "next_attempt_at": _time(step.next_attempt_at),
            "created_at": _time(step.created_at), "queued_at": _time(step.queued_at),
            "started_at": _time(step.started_at), "finished_at": _time(step.finished_at),
            "dead_letter": None if letter is None else {"id": letter.id, "resolution": letter.resolution}}


def _time(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# --- text ---------------------------------------------------------------------------------------

def _print_detail(run: dict[str, Any]) -> None:
    say = _say
    say(f"run {run['id']}: rule {run['rule_id']}, {run['status']}")
    event = run["event"]
    say(f"  event: {event['type']} {event['id']} from {event['source']} at {event['occurred_at']}"
        if event else f"  event: {run['event_id'] or '-'}")
    say(f"  rule set: {run['ruleset_version'] or 'not recorded'}")
    say(f"  created {run['created_at']}, started {run['started_at'] or '-'}, "
        f"finished {run['finished_at'] or '-'}{_took(run['started_at'], run['finished_at'])}")
    if run["status"] == "held":
        say(f"  held: {_why(run)}")
    elif run["held_until"]:
        reason = f": {run['hold_reason']}" if run["hold_reason"] else ""
        say(f"  was held until {run['held_until']}{reason}")
    if run["skip_reason"]:
        say(f"  skipped: {run['skip_reason']}")
    for name in ("dedupe_key", "throttle_key"):
        if run[name]:
            say(f"  {name.replace('_', ' ')}: {run[name]}")
    conditions = run["conditions"]
    say("  conditions: not recorded" if conditions is None else
        "  conditions:" if conditions else "  conditions: none (the rule has no if:)")
    for part in conditions or []:
        result = f"error: {part['error']}" if part.get("error") else str(part.get("result")).lower()
        say(f"    {part.get('path', '')}: {part.get('condition', '')} -> {result}")
    say("  steps:" if run["steps"] else "  steps: none")
    depth: dict[str | None, int] = {None: 0}
    for step in run["steps"]:
        depth[step["id"]] = depth.get(step["fallback_of"], 0) + 1
        _print_step(step, "    " * depth[step["id"]])


def _print_step(step: dict[str, Any], pad: str) -> None:
    say = _say
    label = f" ({step['key']})" if step["key"] else ""
    kind = "fallback " if step["fallback_of"] else ""
    say(f"{pad}{kind}{step['action']}{label}: {step['status']}, attempt {step['attempts']} of "
        f"{step['max_attempts']}{_took(step['started_at'], step['finished_at'])}  [{step['id']}]")
    times = ", ".join(f"{name} {step[name]}" for name in ("queued_at", "started_at", "finished_at")
                      if step[name])
    if times:
        say(f"{pad}  {times.replace('_at', '')}")
    if step["hold_reason"] or step["not_before"]:
        say(f"{pad}  held: {step['hold_reason'] or 'delayed'}"
            + (f" until {step['not_before']}" if step["not_before"] else ""))
    if step["next_attempt_at"] and step["status"] == "queued":
        say(f"{pad}  next attempt at {step['next_attempt_at']}")
    say(f"{pad}  params: {_compact(step['params'])}")
    if step["output"] is not None:
        say(f"{pad}  output: {_compact(step['output'])}")
    if step["error"]:
        code = f"[{step['error_code']}] " if step["error_code"] else ""
        say(f"{pad}  error: {code}{step['error']}")
    letter = step["dead_letter"]
    if letter:
        say(f"{pad}  dead letter {letter['id']}: {letter['resolution'] or 'open'}")


def _say(text: str) -> None:
    # one line each: what came from events and providers (keys, errors) cannot start another
    console.print(plain(text), markup=False, highlight=False)


def _took(start: str | None, end: str | None) -> str:
    from datetime import datetime

    if not (start and end):
        return ""
    seconds = (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()
    return f" (took {seconds * 1000:.0f} ms)" if seconds < 10 else f" (took {seconds:.1f} s)"


def _compact(value: Any) -> str:
    import json

    text = json.dumps(value, ensure_ascii=False, default=str, sort_keys=True)
    return text if len(text) <= 2000 else text[:2000] + "…"


def register(app: typer.Typer) -> None:
    app.add_typer(runs_app, name="runs")
