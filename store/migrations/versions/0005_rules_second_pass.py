"""rules second pass: run traces and holds, the rule set a run ran under, accepted rule sets

``rule_runs`` gets ``hold_reason``, ``ruleset_version`` and ``trace``;
``rule_steps`` gets ``hold_reason`` (quiet hours are checked before every
message step); ``dead_letters`` gets ``handled_by`` (a fallback that
succeeded); ``accepted_rule_sets`` keeps each rule set that loaded cleanly,
so a daemon started with broken files runs the last good one.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rule_runs") as batch:
        batch.add_column(sa.Column("hold_reason", sa.String(length=300), nullable=True))
        batch.add_column(sa.Column("ruleset_version", sa.String(length=80), nullable=True))
        batch.add_column(sa.Column("trace", sa.JSON(), nullable=True))
    with op.batch_alter_table("rule_steps") as batch:
        batch.add_column(sa.Column("hold_reason", sa.String(length=300), nullable=True))
    with op.batch_alter_table("dead_letters") as batch:
        batch.add_column(sa.Column("handled_by", sa.String(length=36), nullable=True))
    op.create_table(
        "accepted_rule_sets",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("digest", sa.String(length=64), nullable=False),
        sa.Column("version", sa.String(length=80), nullable=False),
        sa.Column("rules", sa.Integer(), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accepted_rule_sets")),
    )
    op.create_index(op.f("ix_accepted_rule_sets_accepted_at"), "accepted_rule_sets", ["accepted_at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_accepted_rule_sets_accepted_at"), table_name="accepted_rule_sets")
    op.drop_table("accepted_rule_sets")
    with op.batch_alter_table("dead_letters") as batch:
        batch.drop_column("handled_by")
    with op.batch_alter_table("rule_steps") as batch:
        batch.drop_column("hold_reason")
    with op.batch_alter_table("rule_runs") as batch:
        batch.drop_column("trace")
        batch.drop_column("ruleset_version")
        batch.drop_column("hold_reason")
