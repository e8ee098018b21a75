"""``despacho plan``: what a rule change would do differently to the events of the last days.

The stored events of the last ``--days`` are replayed (dry-run: connectors
only ``plan()``, nothing is sent or written) against the rules of a git ref
(default ``HEAD``) and against the rules of the working tree; per rule, the
actions that would be added, removed or changed are printed. Exit codes for
CI: 0 nothing changes, 1 something changes, 2 an error (bad ref, rules with
problems, the database).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from commands.common import console, fail, settings_from, stderr, wants_json
from commands.output import print_problems, problems_summary

if TYPE_CHECKING:
    from sqlmodel import Session

    from engine.language.dryrun import DryRun
    from engine.language.events import Event
    from engine.language.plan import ActionChange, PlanReport
    from engine.settings import Settings

EXIT_NO_CHANGE, EXIT_CHANGES, EXIT_ERROR = 0, 1, 2


def plan(
    ctx: typer.Context,
    ref: Annotated[str, typer.Option("--ref", help="Git ref whose rules are the base")] = "HEAD",
    days: Annotated[int, typer.Option("--days", min=1, max=366,
                                      help="Replay the events of the last N days")] = 7,
    examples: Annotated[int, typer.Option("--examples", min=0, max=100,
                                          help="Examples shown per rule and kind")] = 3,
    repo: Annotated[FsPath | None, typer.Option("--repo", help="Git repository (default: the rules folder's)")
                    ] = None,
    output: Annotated[str, typer.Option("--format", help="text or json")] = "text",
) -> None:
    """Replay stored events against the rules at REF and in the working tree; print what changes.

    Exit 0 when nothing changes, 1 when something does, 2 on an error: fit for CI.
    """
    from engine.language.plan import plan as plan_events

    as_json = wants_json(output)
    settings = settings_from(ctx)
    with tempfile.TemporaryDirectory(prefix="despacho-plan-") as tmp:
        commit, base = _base_dry_run(settings, repo, ref, FsPath(tmp))
        head = _dry_run(settings, settings.rules.path, settings.templates.path, "in the working tree")
        with _read_session(settings.database.url) as session:
            events = _StoredEvents(session, days)
            report = plan_events(events, base, head, examples=examples)
    summary = {"ref": ref, "commit": commit, "days": days, "unreadable": events.unreadable}
    if as_json:
        console.print(json.dumps(summary | report.to_dict(), ensure_ascii=False, indent=2, default=str),
                      soft_wrap=True)
    else:
        _print_report(report, summary)
    raise typer.Exit(EXIT_CHANGES if report.changed else EXIT_NO_CHANGE)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)


# --- the two rule sets ------------------------------------------------------------------------

def _base_dry_run(settings: Settings, repo: FsPath | None, ref: str, tmp: FsPath) -> tuple[str, DryRun]:
    """The commit REF names and a dry-run of the rules and templates as they are there."""
    from engine.language.gitref import GitRefError, export_paths, repository_root, resolve_ref

    rules, templates = FsPath(settings.rules.path), FsPath(settings.templates.path)
    try:
        root = (repo or repository_root(rules.resolve())).resolve()
        commit = resolve_ref(root, ref)
        rules_at, templates_at = _inside(root, rules), _inside(root, templates)
        export_paths(root, commit, [rules_at], tmp)
        try:
            export_paths(root, commit, [templates_at], tmp)
        except GitRefError:
            (tmp / templates_at).mkdir(parents=True, exist_ok=True)  # rules without templates may load
    except GitRefError as exc:
        fail(f"plan: {exc}", EXIT_ERROR)
    return commit, _dry_run(settings, tmp / rules_at, tmp / templates_at, f"at {ref}", shown_as=(tmp, ref))


def _inside(root: FsPath, path: FsPath) -> str:
    from engine.language.gitref import GitRefError

    try:
        return path.resolve().relative_to(root).as_posix()
    except ValueError as exc:
        raise GitRefError(f"{path} is not inside the git repository {root}") from exc


def _dry_run(settings: Settings, rules: FsPath, templates: FsPath, where: str,
             shown_as: tuple[FsPath, str] | None = None) -> DryRun:
    from dataclasses import replace

    from engine.language.dryrun import DryRun
    from engine.language.loader import load_rules
    from engine.language.templating import TemplateStore

    result = load_rules([rules], templates, http_settings=settings.connectors.http)
    if result.problems:
        problems = result.problems
        if shown_as is not None:  # name the files as REF:rules/x.yaml, not by the temporary folder
            prefix, ref = f"{shown_as[0].resolve()}/", shown_as[1]
            problems = [replace(p, file=f"{ref}:{p.file.removeprefix(prefix)}") for p in problems]
        print_problems(stderr, problems)
        fail(f"plan: the rules {where} have problems: {problems_summary(problems)}", EXIT_ERROR)
    # Plan compares each rule's own actions: the rules emitted events start are not followed.
    return DryRun(result.ruleset, TemplateStore(templates), settings.public_view(), max_depth=0)


# --- the stored events ------------------------------------------------------------------------

class _StoredEvents:
    """The events of the last days as the engine sees them; rows it cannot read are counted."""

    def __init__(self, session: Session, days: int) -> None:
        self.session = session
        self.days = days
        self.unreadable = 0

    def __iter__(self) -> Iterator[Event]:
        from pydantic import ValidationError

        from engine.language.events import Event
        from store.event_pages import events_since
        from store.types import utcnow

        for row in events_since(self.session, utcnow() - timedelta(days=self.days)):
            try:
                yield Event(type=row.type, id=row.id, at=row.occurred_at, source=row.source, data=row.payload)
            except ValidationError:
                self.unreadable += 1


@contextmanager
def _read_session(url: str) -> Iterator[Session]:
    """A session that is never committed; database failures are reported and exit 2."""
    from sqlalchemy.exc import SQLAlchemyError
    from sqlmodel import Session

    from commands.common import database_problem
    from errors import DespachoError
    from store.db import make_engine

    try:
        engine = make_engine(url)
        try:
            with Session(engine) as session:
                try:
                    yield session
                finally:
                    session.rollback()  # plan only reads: whatever happened, nothing is kept
        finally:
            engine.dispose()
    except SQLAlchemyError as exc:
        fail(f"plan: {database_problem(url, exc)}", EXIT_ERROR)
    except DespachoError as exc:
        fail(f"plan: {exc}", EXIT_ERROR)


# --- text output ------------------------------------------------------------------------------

def _print_report(report: PlanReport, summary: dict[str, Any]) -> None:
    base = f"{summary['ref']} ({str(summary['commit'])[:12]})"
    console.print(f"plan: {report.events} events of the last {summary['days']} days, "
                  f"rules at {escape(base)} -> the working tree")
    unreadable = summary["unreadable"]
    if unreadable:
        what = "stored event was" if unreadable == 1 else "stored events were"
        console.print(f"[yellow]{unreadable} {what} left out: not readable as events (type or fields)[/]")
    changed = [c for c in sorted(report.rules.values(), key=lambda c: c.rule_id) if c.total]
    for changes in changed:
        counts = ", ".join(f"{n} {kind}" for kind, n in changes.counts.items())
        console.print(f"\nrule [bold]{escape(changes.rule_id)}[/]: {counts}")
        for found in changes.examples.values():
            for change in found:
                _print_change(change)
    if not changed:
        console.print("no change: every rule would do the same")
        return
    totals = {kind: sum(c.counts[kind] for c in changed) for kind in ("added", "removed", "changed")}
    console.print(f"\n{len(changed)} rule{'s' if len(changed) != 1 else ''} change: "
                  + ", ".join(f"{n} {kind}" for kind, n in totals.items()))


def _print_change(change: ActionChange) -> None:
    colour = {"added": "green", "removed": "red", "changed": "yellow"}[change.kind]
    console.print(f"  [{colour}]{change.kind}[/] {escape(change.action)} ({escape(change.key)}) "
                  f"[dim]event {escape(change.event_type)} id={escape(change.event_id)}[/]")
    if change.kind == "changed":
        for path, sides in change.diff.items():
            before = _short(sides["before"]) if "before" in sides else "(absent)"
            after = _short(sides["after"]) if "after" in sides else "(absent)"
            console.print(f"    {escape(path)}: {escape(before)} -> {escape(after)}")
        return
    shown = change.after if change.kind == "added" else change.before
    if shown is not None:
        console.print(f"    params: {escape(_short(shown.params))}")
        if shown.error:
            console.print(f"    [red]error: {escape(shown.error)}[/]")


def _short(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 300 else text[:300] + "…"
