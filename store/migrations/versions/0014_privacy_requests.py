"""privacy: subjects' requests (LGPD art. 18) and the incident register

``privacy_requests`` records every request of a data subject with its 15-day deadline;
``privacy_incidents`` the security incidents and their notices to the ANPD and the subjects.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "privacy_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("requested_at", _WHEN, nullable=False),
        sa.Column("deadline", _WHEN, nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.String(length=2000), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.Column("closed_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(["customer_id"], ["customers.id"],
                                name=op.f("fk_privacy_requests_customer_id_customers")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_requests")),
    )
    op.create_index(op.f("ix_privacy_requests_customer_id"), "privacy_requests", ["customer_id"])
    op.create_index(op.f("ix_privacy_requests_status_deadline"), "privacy_requests", ["status", "deadline"])
    op.create_table(
        "privacy_incidents",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("summary", sa.String(length=2000), nullable=False),
        sa.Column("occurred_at", _WHEN, nullable=True),
        sa.Column("detected_at", _WHEN, nullable=False),
        sa.Column("deadline", sa.Date(), nullable=False),
        sa.Column("data_categories", sa.JSON(), nullable=False),
        sa.Column("subjects_affected", sa.Integer(), nullable=False),
        sa.Column("risk", sa.String(length=10), nullable=False),
        sa.Column("measures", sa.String(length=4000), nullable=True),
        sa.Column("anpd_notified_at", _WHEN, nullable=True),
        sa.Column("subjects_notified_at", _WHEN, nullable=True),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("recorded_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_privacy_incidents")),
    )
    op.create_index(op.f("ix_privacy_incidents_detected_at"), "privacy_incidents", ["detected_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_privacy_incidents_detected_at"), table_name="privacy_incidents")
    op.drop_table("privacy_incidents")
    op.drop_index(op.f("ix_privacy_requests_status_deadline"), table_name="privacy_requests")
    op.drop_index(op.f("ix_privacy_requests_customer_id"), table_name="privacy_requests")
    op.drop_table("privacy_requests")
