"""daemon_rules: each running daemon's rule set in force and the one it was offered last

A new rule set goes into force only when every live daemon can load it (engine.runtime.rollout).

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "daemon_rules",
        sa.Column("id", sa.String(length=120), nullable=False),
        sa.Column("host", sa.String(length=200), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("parts", sa.String(length=100), nullable=False),
        sa.Column("started_at", _WHEN, nullable=False),
        sa.Column("seen_at", _WHEN, nullable=False),
        sa.Column("active_digest", sa.String(length=64), nullable=False),
        sa.Column("active_version", sa.String(length=80), nullable=False),
        sa.Column("active_since", _WHEN, nullable=False),
        sa.Column("candidate_digest", sa.String(length=64), nullable=True),
        sa.Column("candidate_version", sa.String(length=80), nullable=True),
        sa.Column("candidate_ok", sa.Boolean(), nullable=True),
        sa.Column("candidate_problems", sa.JSON(), nullable=True),
        sa.Column("candidate_at", _WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_daemon_rules")),
    )
    op.create_index(op.f("ix_daemon_rules_seen_at"), "daemon_rules", ["seen_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_daemon_rules_seen_at"), table_name="daemon_rules")
    op.drop_table("daemon_rules")
