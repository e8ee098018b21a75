"""privacy: indexes for finding a person's data (export, anonymisation, retention)

Events by the customer id their payload carries and by the sender of an inbound message
(expression indexes, the same expressions ``store.privacy.footprint`` queries, through
``store.json_text.JsonText``); WhatsApp messages by notification (the retention purge and
the foreign-key check when a notification is deleted); accounting sync records and their
audit by entity id (a person's records in every accounting system).

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from store.json_text import JsonText

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_PAYLOAD = sa.column("payload")


def upgrade() -> None:
    op.create_index("ix_events_payload_customer_id", "events", [JsonText(_PAYLOAD, "customer", "id")])
    op.create_index("ix_events_payload_from", "events", [JsonText(_PAYLOAD, "from")])
    op.create_index(op.f("ix_whatsapp_messages_notification_id"), "whatsapp_messages", ["notification_id"])
    op.create_index(op.f("ix_accounting_sync_records_entity_id"), "accounting_sync_records", ["entity_id"])
    op.create_index(op.f("ix_accounting_sync_audit_entity_id"), "accounting_sync_audit", ["entity_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_accounting_sync_audit_entity_id"), table_name="accounting_sync_audit")
    op.drop_index(op.f("ix_accounting_sync_records_entity_id"), table_name="accounting_sync_records")
    op.drop_index(op.f("ix_whatsapp_messages_notification_id"), table_name="whatsapp_messages")
    op.drop_index("ix_events_payload_from", table_name="events")
    op.drop_index("ix_events_payload_customer_id", table_name="events")
