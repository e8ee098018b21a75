"""google calendar: connections, conflicts, and what two-way sync remembers

``calendar_connections`` holds each Google account despacho acts as (an OAuth
grant whose refresh token is an encrypted secret, or a service account user);
``calendar_conflicts`` keeps both versions of every appointment changed on
both sides. ``calendar_links`` gets the version both sides last agreed on and
the Google ``updated`` time (echo detection); ``calendar_sync_states`` gets
the push channel's token, the last message number, its connection and the
time of the last full sync.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "calendar_connections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("technician_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("account", sa.String(length=320), nullable=False),
        sa.Column("secret_name", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("broken_reason", sa.String(length=500), nullable=True),
        sa.Column("token_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("calendars", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["technician_id"], ["technicians.id"],
                                name=op.f("fk_calendar_connections_technician_id_technicians")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_connections")),
        sa.UniqueConstraint("technician_id", name=op.f("uq_calendar_connections_technician_id")),
    )
    op.create_table(
        "calendar_conflicts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("appointment_id", sa.String(length=36), nullable=False),
        sa.Column("calendar_id", sa.String(length=255), nullable=False),
        sa.Column("google_event_id", sa.String(length=1024), nullable=False),
        sa.Column("ours", sa.JSON(), nullable=False),
        sa.Column("theirs", sa.JSON(), nullable=False),
        sa.Column("policy", sa.String(length=20), nullable=False),
        sa.Column("winner", sa.String(length=20), nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["appointment_id"], ["appointments.id"],
                                name=op.f("fk_calendar_conflicts_appointment_id_appointments")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_conflicts")),
    )
    op.create_index(op.f("ix_calendar_conflicts_appointment_id"), "calendar_conflicts", ["appointment_id"])
    op.create_index(op.f("ix_calendar_conflicts_detected_at"), "calendar_conflicts", ["detected_at"])
    with op.batch_alter_table("calendar_links") as batch:
        batch.add_column(sa.Column("synced_version", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("google_updated", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("calendar_sync_states") as batch:
        batch.add_column(sa.Column("channel_token", sa.String(length=255), nullable=True))
        batch.add_column(sa.Column("last_message_number", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("connection_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("full_synced_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_foreign_key(op.f("fk_calendar_sync_states_connection_id_calendar_connections"),
                                 "calendar_connections", ["connection_id"], ["id"])


def downgrade() -> None:
    with op.batch_alter_table("calendar_sync_states") as batch:
        batch.drop_constraint(op.f("fk_calendar_sync_states_connection_id_calendar_connections"),
                              type_="foreignkey")
        batch.drop_column("full_synced_at")
        batch.drop_column("connection_id")
        batch.drop_column("last_message_number")
        batch.drop_column("channel_token")
    with op.batch_alter_table("calendar_links") as batch:
        batch.drop_column("google_updated")
        batch.drop_column("synced_version")
    op.drop_index(op.f("ix_calendar_conflicts_detected_at"), table_name="calendar_conflicts")
    op.drop_index(op.f("ix_calendar_conflicts_appointment_id"), table_name="calendar_conflicts")
    op.drop_table("calendar_conflicts")
    op.drop_table("calendar_connections")
