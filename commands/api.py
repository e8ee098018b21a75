"""``despacho api``, ``api-client``, ``audit`` and ``secrets``: the API's face on the command line."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated

import typer

from api.scopes import SCOPES
from commands.common import (
    EXIT_USAGE,
    config_in_use,
    console,
    database_errors,
    fail,
    open_session,
    settings_from,
    shown,
    wants_json,
)
from commands.output import print_table, to_json
from errors import DespachoError

if TYPE_CHECKING:
    from sqlmodel import Session

CLI_ACTOR = "cli"

client_app = typer.Typer(help="API clients: create (secret shown once), list, update, revoke.",
                         no_args_is_help=True)
secrets_app = typer.Typer(help="Secrets stored encrypted in the database.", no_args_is_help=True)
JsonFlag = Annotated[str, typer.Option("--format", help="text or json")]
EVENTS_HELP = ("Event types it may send with POST /v1/events, comma-separated patterns ('*' matches any run "
               "of characters): 'service_order.*,invoice.paid'; '*' for every type that is not reserved")
SOURCE_HELP = "The source of every event it sends (default: its name as a slug, e.g. 'erp')"


def api_command(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Default: api.host (127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(help="Default: api.port (8000)", min=1, max=65535)] = None,
) -> None:
    """Serve the REST API and webhooks."""
    import structlog

    from api.server import serve
    from engine.runtime.logs import configure

    settings = settings_from(ctx)
    configure(settings.execution.log_level)
    structlog.get_logger("despacho").info("despacho_config", config=config_in_use(settings),
                                          database=shown(settings.database.url))
    with database_errors(settings.database.url):  # a missing database: say which, and how to make it
        serve(settings, host, port)


@client_app.command("create")
def create_client(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Who uses it, e.g. 'erp'")],
    scopes: Annotated[str, typer.Option("--scopes", help=f"Comma-separated: {', '.join(SCOPES)}")],
    events: Annotated[str, typer.Option("--events", help=EVENTS_HELP + "; required with events:write")] = "",
    source: Annotated[str | None, typer.Option("--source", help=SOURCE_HELP)] = None,
    output: JsonFlag = "text",
) -> None:
    """Create a client; its secret is printed once and stored only as a hash."""
    from store import api_clients
    from store.audit import record_action

    as_json = wants_json(output)
    settings = settings_from(ctx)
    wanted = _items(scopes)
    patterns = _items(events)
    if "events:write" in wanted and not patterns:
        # no silent default: an events:write client with every type allowed could drive any rule
        # (an admin client without --events may send none until 'api-client update' gives it some)
        fail("a client that may POST /v1/events needs --events: the event types it may send, e.g. "
             "--events 'service_order.*,invoice.paid' (or '*' for every type that is not reserved)",
             EXIT_USAGE)
    with open_session(settings.database.url) as session:
        made = api_clients.create_client(session, name, wanted, known_scopes=SCOPES, event_types=patterns,
                                         event_source=source)
        record_action(session, CLI_ACTOR, "api_client.create", entity_type="api_client",
                      entity_id=made.client.key_prefix,
                      details={"name": name, "scopes": made.client.scopes,
                               "event_types": made.client.event_types,
                               "event_source": made.client.event_source})
    if as_json:
        console.print(to_json({"client_id": made.client.key_prefix, "client_secret": made.secret}),
                      soft_wrap=True)
        return
    console.print(f"client_id:     {made.client.key_prefix}\nclient_secret: {made.secret}\n"
                  "(the secret is shown only now: store it in the calling system's secret store)")


@client_app.command("list")
def list_clients(
    ctx: typer.Context,
    include_revoked: Annotated[bool, typer.Option("--all", help="Include revoked clients")] = False,
    output: JsonFlag = "text",
) -> None:
    """List API clients (never their secrets)."""
    from rich.table import Table

    from store import api_clients

    as_json = wants_json(output)
    settings = settings_from(ctx)
    with open_session(settings.database.url) as session:
        rows = [{"client_id": c.key_prefix, "name": c.name, "scopes": c.scopes,
                 "event_types": c.event_types, "event_source": c.event_source,
                 "created_at": c.created_at.isoformat(),
                 "last_used_at": c.last_used_at.isoformat() if c.last_used_at else None,
                 "revoked_at": c.revoked_at.isoformat() if c.revoked_at else None}
                for c in api_clients.list_clients(session, include_revoked=include_revoked)]
    if as_json:
        console.print(to_json({"clients": rows}), soft_wrap=True)
        return
    table = Table("client_id", "name", "scopes", "event types", "source", "last used", "revoked")
    for row in rows:
        table.add_row(row["client_id"], row["name"], " ".join(row["scopes"]),
                      " ".join(row["event_types"]) or "-", row["event_source"], row["last_used_at"] or "-",
                      row["revoked_at"] or "-")
    print_table(console, table)


@client_app.command("update")
def update_client(
    ctx: typer.Context,
    client_id: Annotated[str, typer.Argument(help="Its client id or a unique prefix of it")],
    events: Annotated[str | None, typer.Option("--events", help=EVENTS_HELP + "; '' for none")] = None,
    source: Annotated[str | None, typer.Option("--source", help=SOURCE_HELP)] = None,
) -> None:
    """Change the event types a client may send or its source; API processes apply it within seconds."""
    from store import api_clients
    from store.audit import record_action

    if events is None and source is None:
        fail("nothing to change: give --events, --source or both", EXIT_USAGE)
    settings = settings_from(ctx)
    with open_session(settings.database.url) as session:
        client_id = _client_id(session, client_id)
        client = api_clients.set_event_permissions(
            session, client_id, event_types=None if events is None else _items(events), event_source=source)
        record_action(session, CLI_ACTOR, "api_client.update", entity_type="api_client", entity_id=client_id,
                      details={"event_types": client.event_types, "event_source": client.event_source})
        summary = f"{client.key_prefix} ({client.name}): event types " \
                  f"{', '.join(client.event_types) or 'none'}; source {client.event_source}"
    console.print(summary)


def _client_id(session: Session, typed: str) -> str:
    """A client id from the whole id or a unique prefix of it (``dc_3f2a``)."""
    from sqlmodel import col

    from store.models import ApiClient
    from store.prefixes import resolve_prefix

    return resolve_prefix(session, col(ApiClient.key_prefix), typed, "api_client")


def _items(text: str) -> list[str]:
    return [item.strip() for item in text.replace(" ", ",").split(",") if item.strip()]


@client_app.command("revoke")
def revoke_client(ctx: typer.Context, client_id: Annotated[str, typer.Argument(
        help="Its client id or a unique prefix of it")]) -> None:
    """Revoke a client: new tokens are refused at once, existing ones within seconds."""
    from store import api_clients
    from store.audit import record_action

    settings = settings_from(ctx)
    with open_session(settings.database.url) as session:
        client_id = _client_id(session, client_id)
        client = api_clients.revoke_client(session, client_id)
        record_action(session, CLI_ACTOR, "api_client.revoke", entity_type="api_client", entity_id=client_id)
    console.print(f"revoked {client.key_prefix} ({client.name})")


def audit_command(
    ctx: typer.Context,
    actor: Annotated[str | None, typer.Option(help="e.g. api_client:dc_..., ip:1.2.3.4, cli")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. http.request, dead_letters.retry")] = None,
    entity: Annotated[str | None, typer.Option(help="Entity id (a route, a client id, ...)")] = None,
    since: Annotated[datetime | None, typer.Option(help="From this time (ISO; naive means UTC)")] = None,
    until: Annotated[datetime | None, typer.Option(help="Before this time")] = None,
    no_requests: Annotated[bool, typer.Option("--no-requests", help="Critical actions only")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    output: JsonFlag = "text",
) -> None:
    """Show the audit log, newest first."""
    from store.audit import query_entries

    as_json = wants_json(output)
    settings = settings_from(ctx)
    with open_session(settings.database.url) as session:
        entries = query_entries(session, actor=actor, action=action, entity_id=entity,
                                since=_utc(since), until=_utc(until), include_requests=not no_requests,
                                limit=limit)
        rows = [{"at": e.at.isoformat(), "actor": e.actor, "action": e.action, "entity_type": e.entity_type,
                 "entity_id": e.entity_id, "details": e.details} for e in entries]
    if as_json:
        console.print(to_json({"entries": rows}), soft_wrap=True)
        return
    for row in rows:
        details = " ".join(f"{k}={v}" for k, v in row["details"].items())
        console.print(f"{row['at']}  {row['actor']}  {row['action']}  {row['entity_id'] or ''}  {details}")


def _utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


@secrets_app.command("rotate-key")
def rotate_key(
    ctx: typer.Context,
    reencrypt_only: Annotated[bool, typer.Option(
        "--reencrypt-only", help="Keys come from secrets.keys: put the new key first there, then run this")
    ] = False,
) -> None:
    """Add a new current key to the keys file and re-encrypt every stored secret with it."""
    from api.settings import secrets_settings
    from store.audit import record_action
    from store.keyring import prepend_new_key
    from store.secrets import SecretBox, load_ring, new_fernet_key, rotate_secrets

    settings = settings_from(ctx)
    config = secrets_settings(settings)
    if config.keys.strip() and not reencrypt_only:
        fail("the keys come from the configuration (secrets.keys): add the new key first there and run "
             "'despacho secrets rotate-key --reencrypt-only'", EXIT_USAGE)
    try:
        ring = load_ring(config) if reencrypt_only else \
            prepend_new_key(config.keys_file, new_fernet_key, "secrets.keys_file")
    except DespachoError as exc:
        fail(str(exc), EXIT_USAGE)
    with open_session(settings.database.url) as session:
        box = SecretBox(ring)
        changed = rotate_secrets(session, box)
        record_action(session, CLI_ACTOR, "secrets.rotate_key", entity_type="secret",
                      details={"key_id": box.key_id, "reencrypted": changed})
    console.print(f"current key {box.key_id}; re-encrypted {changed} secret{'s' if changed != 1 else ''}")


def register(app: typer.Typer) -> None:
    app.command("api")(api_command)
    app.add_typer(client_app, name="api-client")
    app.command("audit")(audit_command)
    app.add_typer(secrets_app, name="secrets")
