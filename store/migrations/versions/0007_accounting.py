"""accounting: customers' tax ids, a fuller sync audit, conflicts, webhook receipts, OAuth connections

``customers.tax_id`` (CPF or CNPJ, what payment providers and ERPs require);
``accounting_sync_records`` remembers the values both sides last agreed on and
the system's own version; ``accounting_sync_audit`` records direction, entity,
diff, outcome and the rule and step behind each call (``record_id`` may be NULL
for calls about no one record); ``accounting_conflicts`` keeps both values of a
field changed on both sides; ``accounting_webhook_receipts`` deduplicates
deliveries; ``accounting_connections`` holds OAuth grants with a token version
for compare-and-set rotation.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("customers") as batch:
        batch.add_column(sa.Column("tax_id", sa.String(length=14), nullable=True))
        batch.create_index(batch.f("ix_customers_tax_id"), ["tax_id"], unique=False)
    with op.batch_alter_table("accounting_sync_records") as batch:
        batch.add_column(sa.Column("synced_fields", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("remote_version", sa.String(length=100), nullable=True))
    with op.batch_alter_table("accounting_sync_audit") as batch:
        batch.alter_column("record_id", existing_type=sa.String(length=36), nullable=True)
        batch.add_column(sa.Column("system", sa.String(length=50), nullable=True))
        batch.add_column(sa.Column("entity_type", sa.String(length=20), nullable=True))
        batch.add_column(sa.Column("entity_id", sa.String(length=36), nullable=True))
        batch.add_column(sa.Column("direction", sa.String(length=10), nullable=False, server_default="push"))
        batch.add_column(sa.Column("diff", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("outcome", sa.String(length=20), nullable=False, server_default="ok"))
        batch.add_column(sa.Column("rule_id", sa.String(length=100), nullable=True))
        batch.add_column(sa.Column("step_id", sa.String(length=36), nullable=True))
        batch.create_index(batch.f("ix_accounting_sync_audit_at"), ["at"], unique=False)
    with op.batch_alter_table("accounting_sync_audit") as batch:
        # the defaults only filled the rows already there; the models set them from now on
        batch.alter_column("direction", server_default=None, existing_type=sa.String(length=10))
        batch.alter_column("outcome", server_default=None, existing_type=sa.String(length=20))
    op.create_table(
        "accounting_conflicts",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("system", sa.String(length=50), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.String(length=36), nullable=False),
        sa.Column("field", sa.String(length=50), nullable=False),
        sa.Column("ours", sa.JSON(), nullable=True),
        sa.Column("theirs", sa.JSON(), nullable=True),
        sa.Column("owner", sa.String(length=20), nullable=False),
        sa.Column("kept", sa.String(length=20), nullable=False),
        sa.Column("detected_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounting_conflicts")),
    )
    op.create_index(op.f("ix_accounting_conflicts_detected_at"), "accounting_conflicts", ["detected_at"])
    op.create_index(op.f("ix_accounting_conflicts_system_entity_type_entity_id"), "accounting_conflicts",
                    ["system", "entity_type", "entity_id"])
    op.create_table(
        "accounting_webhook_receipts",
        sa.Column("system", sa.String(length=50), nullable=False),
        sa.Column("event_id", sa.String(length=100), nullable=False),
        sa.Column("event_type", sa.String(length=60), nullable=False),
        sa.Column("received_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("system", "event_id", name=op.f("pk_accounting_webhook_receipts")),
    )
    op.create_table(
        "accounting_connections",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("system", sa.String(length=50), nullable=False),
        sa.Column("company", sa.String(length=100), nullable=False),
        sa.Column("secret_name", sa.String(length=200), nullable=True),
        sa.Column("token_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("broken_reason", sa.String(length=500), nullable=True),
        sa.Column("token_expires_at", _WHEN, nullable=True),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounting_connections")),
        sa.UniqueConstraint("system", "company", name=op.f("uq_accounting_connections_system_company")),
    )


def downgrade() -> None:
    op.drop_table("accounting_connections")
    op.drop_table("accounting_webhook_receipts")
    op.drop_index(op.f("ix_accounting_conflicts_system_entity_type_entity_id"),
                  table_name="accounting_conflicts")
    op.drop_index(op.f("ix_accounting_conflicts_detected_at"), table_name="accounting_conflicts")
    op.drop_table("accounting_conflicts")
    with op.batch_alter_table("accounting_sync_audit") as batch:
        batch.drop_index(batch.f("ix_accounting_sync_audit_at"))
        for column in ("step_id", "rule_id", "outcome", "diff", "direction", "entity_id", "entity_type",
                       "system"):
            batch.drop_column(column)
        batch.alter_column("record_id", existing_type=sa.String(length=36), nullable=False)
    with op.batch_alter_table("accounting_sync_records") as batch:
        batch.drop_column("remote_version")
        batch.drop_column("synced_fields")
    with op.batch_alter_table("customers") as batch:
        batch.drop_index(batch.f("ix_customers_tax_id"))
        batch.drop_column("tax_id")
