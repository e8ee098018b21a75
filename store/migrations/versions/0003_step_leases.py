"""execution: step leases (a running step's worker renews lease_until)

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("rule_steps") as batch:
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index(op.f("ix_rule_steps_status_lease_until"), "rule_steps", ["status", "lease_until"],
                    unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_rule_steps_status_lease_until"), table_name="rule_steps")
    with op.batch_alter_table("rule_steps") as batch:
        batch.drop_column("lease_until")
