"""feature flags: modes for gradual rollout (on, off, shadow, percent of subjects, listed subjects)

``feature_flags.enabled`` becomes ``mode`` (on/off as it was), with ``percent``,
``subjects`` and ``subject_key`` for rolling a rule or an integration out to part of
the customers, and ``shadow`` for trying it on real traffic without sending.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("feature_flags") as batch:
        batch.add_column(sa.Column("mode", sa.String(length=10), nullable=False, server_default="on"))
        batch.add_column(sa.Column("percent", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("subjects", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("subject_key", sa.String(length=200), nullable=True))
    op.execute("UPDATE feature_flags SET mode = CASE WHEN enabled THEN 'on' ELSE 'off' END")
    with op.batch_alter_table("feature_flags") as batch:
        batch.alter_column("mode", server_default=None)
        batch.drop_column("enabled")


def downgrade() -> None:
    with op.batch_alter_table("feature_flags") as batch:
        batch.add_column(sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.execute("UPDATE feature_flags SET enabled = (mode <> 'off')")
    with op.batch_alter_table("feature_flags") as batch:
        batch.alter_column("enabled", server_default=None)
        batch.drop_column("subject_key")
        batch.drop_column("subjects")
        batch.drop_column("percent")
        batch.drop_column("mode")
