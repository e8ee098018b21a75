"""dashboard: when an order got its technician, and indexes for the figures over a period

``service_orders.assigned_at`` (the first assignment; the dashboard's time to
assign), filled for existing assigned orders from their first
``service_order.assigned`` event where there is one. Indexes on
``service_orders.created_at`` / ``completed_at`` / ``cancelled_at``,
``appointments.starts_at``, ``invoices.issued_at`` and
``notifications.created_at``: the dashboard reads each over a date range, and
the existing composite indexes lead with another column. No rollup tables: the
benchmark (bench/bench_dashboard.py) keeps the live queries within 2× of the
hand-written SQL over 1M orders.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("service_orders") as batch:
        batch.add_column(sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index(batch.f("ix_service_orders_created_at"), ["created_at"], unique=False)
        batch.create_index(batch.f("ix_service_orders_completed_at"), ["completed_at"], unique=False)
        batch.create_index(batch.f("ix_service_orders_cancelled_at"), ["cancelled_at"], unique=False)
    with op.batch_alter_table("appointments") as batch:
        batch.create_index(batch.f("ix_appointments_starts_at"), ["starts_at"], unique=False)
    with op.batch_alter_table("invoices") as batch:
        batch.create_index(batch.f("ix_invoices_issued_at"), ["issued_at"], unique=False)
    with op.batch_alter_table("notifications") as batch:
        batch.create_index(batch.f("ix_notifications_created_at"), ["created_at"], unique=False)
    _backfill_assigned_at()


def downgrade() -> None:
    with op.batch_alter_table("notifications") as batch:
        batch.drop_index(batch.f("ix_notifications_created_at"))
    with op.batch_alter_table("invoices") as batch:
        batch.drop_index(batch.f("ix_invoices_issued_at"))
    with op.batch_alter_table("appointments") as batch:
        batch.drop_index(batch.f("ix_appointments_starts_at"))
    with op.batch_alter_table("service_orders") as batch:
        batch.drop_index(batch.f("ix_service_orders_cancelled_at"))
        batch.drop_index(batch.f("ix_service_orders_completed_at"))
        batch.drop_index(batch.f("ix_service_orders_created_at"))
        batch.drop_column("assigned_at")


def _backfill_assigned_at() -> None:
    """The first ``service_order.assigned`` event of each assigned order, where the log has one."""
    bind = op.get_bind()
    order_id = ("events.payload -> 'order' ->> 'id'" if bind.dialect.name == "postgresql"
                else "json_extract(events.payload, '$.order.id')")
    bind.execute(sa.text(f"""
        UPDATE service_orders SET assigned_at = (
            SELECT min(events.occurred_at) FROM events
            WHERE events.type = 'service_order.assigned' AND {order_id} = service_orders.id)
        WHERE technician_id IS NOT NULL AND assigned_at IS NULL
    """))
