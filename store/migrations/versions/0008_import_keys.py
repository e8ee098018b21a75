"""import keys: the source system's id of each record ``despacho import`` made

``import_keys`` maps (source system, kind, source id) to the record despacho
made from that row, so importing the same file again updates instead of
duplicating, and later files can refer to earlier rows by the source's ids.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "import_keys",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("source_id", sa.String(length=200), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("imported_at", _WHEN, nullable=False),
        sa.Column("updated_at", _WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_keys")),
        sa.UniqueConstraint("source", "kind", "source_id", name=op.f("uq_import_keys_source_kind_source_id")),
    )
    op.create_index(op.f("ix_import_keys_record_id"), "import_keys", ["record_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_import_keys_record_id"), table_name="import_keys")
    op.drop_table("import_keys")
