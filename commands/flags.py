"""``despacho flags``: rules, integrations and actions on, off, in shadow, or on for part of the subjects."""

from __future__ import annotations

import getpass
from typing import Annotated

import typer

from commands.common import EXIT_USAGE, FormatFlag, console, fail, open_session, settings_from, wants_json
from commands.output import plain, print_json

flags_app = typer.Typer(help="Feature flags: rule:ID, connector:NAME, action:CONNECTOR.ACTION.",
                        no_args_is_help=True)


@flags_app.command("list")
def list_command(ctx: typer.Context, output: FormatFlag = "text") -> None:
    """Every flag and its mode; what has no flag is on."""
    from store.flags import list_flags

    with open_session(settings_from(ctx).database.url) as session:
        rows = [{"key": f.key, "mode": f.mode, "percent": f.percent, "subjects": f.subjects,
                 "subject_key": f.subject_key, "updated_by": f.updated_by,
                 "updated_at": f.updated_at.isoformat() if f.updated_at else None}
                for f in list_flags(session)]
    if wants_json(output):
        print_json(console, {"flags": rows})
        return
    if not rows:
        console.print("no flags: every rule, integration and action is on")
        return
    for row in rows:
        when = str(row["updated_at"])[:19]
        console.print(plain(f"{row['key']}: {_describe(row)} (by {row['updated_by']}, {when})"))


def _describe(row: dict[str, object]) -> str:
    if row["mode"] == "percent":
        return f"on for {row['percent']}% of {row['subject_key']}"
    if row["mode"] == "subjects":
        subjects = row["subjects"] if isinstance(row["subjects"], list) else []
        shown = ", ".join(str(s) for s in subjects[:5]) + (" ..." if len(subjects) > 5 else "")
        return f"on for {row['subject_key']} in [{shown}]"
    return str(row["mode"])


@flags_app.command("set")
def set_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="rule:ID, connector:NAME or action:CONNECTOR.ACTION")],
    mode: Annotated[str, typer.Argument(help="on, off, shadow, percent or subjects")],
    percent: Annotated[int | None, typer.Option(min=0, max=100, help="With percent: how many in 100")] = None,
    subject: Annotated[list[str] | None, typer.Option(
        "--subject", help="With subjects: a subject (repeat the option)")] = None,
    subject_key: Annotated[str | None, typer.Option(
        "--subject-key", help="With percent or subjects: the subject's place in the event, e.g. "
                              "data.customer.id")] = None,
    actor: Annotated[str | None, typer.Option(help="Who sets it (default: the system user)")] = None,
) -> None:
    """Set a flag; the change is audited (who, before, after)."""
    from store.errors import ValidationFailed
    from store.flags import set_flag

    who = f"user:{actor or getpass.getuser()}"
    with open_session(settings_from(ctx).database.url) as session:
        try:
            flag = set_flag(session, key, mode, actor=who, percent=percent, subjects=subject or (),
                            subject_key=subject_key)
        except ValidationFailed as exc:
            fail(str(exc), EXIT_USAGE)
        summary = _describe({"mode": flag.mode, "percent": flag.percent, "subjects": flag.subjects,
                             "subject_key": flag.subject_key})
    console.print(plain(f"{key}: {summary}"))


@flags_app.command("delete")
def delete_command(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help="The flag to remove (what it switched is on again)")],
    actor: Annotated[str | None, typer.Option(help="Who removes it (default: the system user)")] = None,
) -> None:
    """Remove a flag: what it switched is on again."""
    from store.errors import NotFound
    from store.flags import delete_flag

    with open_session(settings_from(ctx).database.url) as session:
        try:
            delete_flag(session, key, actor=f"user:{actor or getpass.getuser()}")
        except NotFound as exc:
            fail(str(exc), EXIT_USAGE)
    console.print(plain(f"{key}: removed (on)"))


def register(app: typer.Typer) -> None:
    app.add_typer(flags_app, name="flags")
