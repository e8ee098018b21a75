"""schedule claims in their own table; API clients get event types and a source

Schedule fires were claimed by storing the event ``<rule>@<fire time>``, so a
client that stored that id first cancelled the fire. ``schedule_claims``
takes over, seeded with each rule's latest genuine fire (its stamp matches
its time, and the time is not in the future: a forged far-future claim would
stop catch-up forever). API clients get ``event_types`` (allow-list of
patterns) and ``event_source``; existing clients keep sending every type
that is not reserved (``["*"]``) and their source becomes their name as a
slug, so an upgrade breaks no integration; admins narrow them afterwards.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENTS = sa.table("events", sa.column("id", sa.String), sa.column("type", sa.String),
                   sa.column("source", sa.String), sa.column("occurred_at", sa.DateTime(timezone=True)))
_CLAIMS = sa.table("schedule_claims", sa.column("rule_id", sa.String),
                   sa.column("fire_at", sa.DateTime(timezone=True)),
                   sa.column("claimed_at", sa.DateTime(timezone=True)))
_CLIENTS = sa.table("api_clients", sa.column("id", sa.String), sa.column("name", sa.String),
                    sa.column("event_types", sa.JSON), sa.column("event_source", sa.String))
# frozen copies of what the application used at this revision: a migration must not change later
_RESERVED_SOURCES = {"despacho", "scheduler", "twilio", "cli", "rule"}


def upgrade() -> None:
    op.create_table(
        "schedule_claims",
        sa.Column("rule_id", sa.String(length=200), nullable=False),
        sa.Column("fire_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("rule_id", "fire_at", name=op.f("pk_schedule_claims")),
    )
    _seed_claims()
    with op.batch_alter_table("api_clients") as batch:
        batch.add_column(sa.Column("event_types", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("event_source", sa.String(length=100), nullable=True))
    connection = op.get_bind()
    for client_id, name in connection.execute(sa.select(_CLIENTS.c.id, _CLIENTS.c.name)).all():
        connection.execute(_CLIENTS.update().where(_CLIENTS.c.id == client_id)
                           .values(event_types=["*"], event_source=_source_from_name(name)))
    with op.batch_alter_table("api_clients") as batch:
        batch.alter_column("event_types", existing_type=sa.JSON(), nullable=False)
        batch.alter_column("event_source", existing_type=sa.String(length=100), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("api_clients") as batch:
        batch.drop_column("event_source")
        batch.drop_column("event_types")
    op.drop_table("schedule_claims")


def _seed_claims() -> None:
    """Each rule's latest fire recorded in the event log, so catch-up resumes where it was."""
    connection = op.get_bind()
    now = datetime.now(UTC)
    rows = connection.execute(
        sa.select(_EVENTS.c.id, _EVENTS.c.occurred_at)
        .where(_EVENTS.c.type == "schedule", _EVENTS.c.source == "scheduler", ~_EVENTS.c.id.contains("#")))
    latest: dict[str, datetime] = {}
    for event_id, occurred_at in rows:
        rule_id, _, stamp = event_id.partition("@")
        try:
            fire_at = datetime.fromisoformat(stamp).astimezone(UTC)
        except ValueError:
            continue  # not an id the scheduler makes
        stored = occurred_at if occurred_at.tzinfo else occurred_at.replace(tzinfo=UTC)
        if fire_at != stored or fire_at > now:
            continue  # forged: the scheduler's events carry their fire time, never a future one
        if rule_id not in latest or fire_at > latest[rule_id]:
            latest[rule_id] = fire_at
    if latest:
        sqlite = connection.dialect.name == "sqlite"  # stores naive UTC (see store.types.UTCDateTime)
        op.bulk_insert(_CLAIMS, [
            {"rule_id": rule_id, "fire_at": fire_at.replace(tzinfo=None) if sqlite else fire_at,
             "claimed_at": now.replace(tzinfo=None) if sqlite else now}
            for rule_id, fire_at in latest.items()])


def _source_from_name(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9_.-]+", "-", ascii_name.lower()).strip("-._")[:100]
    return slug if slug and slug not in _RESERVED_SOURCES and not slug.startswith("rule:") else "api"
