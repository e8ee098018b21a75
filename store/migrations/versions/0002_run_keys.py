"""execution: run throttle keys, dedupe/throttle/mode indexes, action effects

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "action_effects",
        sa.Column("idempotency_key", sa.String(length=300), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("idempotency_key", name=op.f("pk_action_effects")),
    )
    with op.batch_alter_table("rule_runs") as batch:
        batch.add_column(sa.Column("throttle_key", sa.String(length=500), nullable=True))
    op.create_index(op.f("ix_rule_runs_rule_id_dedupe_key_created_at"), "rule_runs",
                    ["rule_id", "dedupe_key", "created_at"], unique=False)
    op.create_index(op.f("ix_rule_runs_rule_id_throttle_key_created_at"), "rule_runs",
                    ["rule_id", "throttle_key", "created_at"], unique=False)
    op.create_index(op.f("ix_rule_runs_rule_id_status"), "rule_runs", ["rule_id", "status"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_rule_runs_rule_id_status"), table_name="rule_runs")
    op.drop_index(op.f("ix_rule_runs_rule_id_throttle_key_created_at"), table_name="rule_runs")
    op.drop_index(op.f("ix_rule_runs_rule_id_dedupe_key_created_at"), table_name="rule_runs")
    with op.batch_alter_table("rule_runs") as batch:
        batch.drop_column("throttle_key")
    op.drop_table("action_effects")
