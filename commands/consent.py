"""``despacho privacy consent``: marketing consent per channel, shown and recorded with its proof.

Each ``grant`` or ``withdraw`` appends a decision (``store.consent``): when, how (``--source``:
a signed service order, a WhatsApp opt-in message, a phone call) and under which wording; the
earlier ones stay as the history. ``show`` is a read of the person's data: it goes in their
access log.
"""

from __future__ import annotations

from typing import Annotated

import typer

from commands.common import FormatFlag, console, open_session, settings_from, wants_json
from commands.output import plain, print_json
from commands.privacy_common import ActorOption, Person, actor_name, subject, usage_errors

consent_app = typer.Typer(help="Marketing consent per channel, with its proof (source, wording version).",
                          no_args_is_help=True)

Channel = Annotated[str, typer.Option("--channel", help="email, sms or whatsapp")]
Source = Annotated[str, typer.Option("--source", help="How the customer decided: service_order:OS-123, "
                                                      "whatsapp_optin:<message sid>, phone_call, ...")]
Wording = Annotated[str | None, typer.Option("--wording-version",
                                             help="Version of the text the customer agreed to")]
Reason = Annotated[str | None, typer.Option("--reason", help="Why you read it (kept in the access log)")]


@consent_app.command("show")
def show_command(ctx: typer.Context, person: Person, reason: Reason = None, actor: ActorOption = None,
                 output: FormatFlag = "text") -> None:
    """The decision in force on each channel, then every decision recorded (oldest first)."""
    from store import consent
    from store.privacy.access import record_access

    with open_session(settings_from(ctx).database.url) as session, usage_errors():
        customer = subject(session, person)
        states = [s.to_dict() for s in consent.current(session, customer.id)]
        history = [consent.record_dict(r) for r in consent.history(session, customer.id)]
        record_access(session, actor_name(actor), [customer.id], what="privacy consent show",
                      reason=reason.strip() if reason else None)
    if wants_json(output):
        print_json(console, {"customer_id": customer.id, "current": states, "history": history})
        return
    console.print(f"customer {customer.id}")
    for state in states:
        if state["since"] is None:
            console.print(f"  {state['channel']:<9} never asked")
            continue
        decision = "granted" if state["granted"] else "withdrawn"
        console.print(plain(f"  {state['channel']:<9} {decision:<9} since {state['since'][:19]}  "
                            f"source {state['source']}  wording {state['wording_version'] or '-'}"))
    console.print(f"history ({len(history)}):")
    for row in history:
        console.print(plain(f"  {row['recorded_at'][:19]}  {row['channel']:<9} {row['decision']:<9} "
                            f"source={row['source']}  wording={row['wording_version'] or '-'}  "
                            f"by={row['actor'] or '-'}"))


@consent_app.command("grant")
def grant_command(ctx: typer.Context, person: Person, channel: Channel, source: Source,
                  wording_version: Wording = None, actor: ActorOption = None,
                  output: FormatFlag = "text") -> None:
    """Record that PERSON agreed to marketing on --channel; in force from now on."""
    _decide(ctx, person, channel, source, wording_version, actor, output, granted=True)


@consent_app.command("withdraw")
def withdraw_command(ctx: typer.Context, person: Person, channel: Channel, source: Source,
                     wording_version: Wording = None, actor: ActorOption = None,
                     output: FormatFlag = "text") -> None:
    """Record that PERSON withdrew consent on --channel; marketing to it stops at once."""
    _decide(ctx, person, channel, source, wording_version, actor, output, granted=False)


def _decide(ctx: typer.Context, person: str, channel: str, source: str, wording_version: str | None,
            actor: str | None, output: str, *, granted: bool) -> None:
    from store import consent

    as_json = wants_json(output)
    with open_session(settings_from(ctx).database.url) as session, usage_errors():
        customer = subject(session, person)
        row = consent.record(session, customer.id, channel, granted=granted, source=source,
                             wording_version=wording_version, actor=actor_name(actor))
        session.flush()
        body = {"customer_id": customer.id, **consent.record_dict(row)}
    if as_json:
        print_json(console, body)
        return
    console.print(plain(f"customer {body['customer_id']}: {body['channel']} consent {body['decision']} "
                        f"(source {body['source']}, wording {body['wording_version'] or '-'}; "
                        f"record {body['id']})"))
