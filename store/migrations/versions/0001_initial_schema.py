"""initial schema

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-29
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "accounting_sync_records",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("system", sa.String(length=50), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.String(length=36), nullable=False),
        sa.Column("external_id", sa.String(length=100), nullable=True),
        sa.Column("integration_code", sa.String(length=100), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounting_sync_records")),
        sa.UniqueConstraint(
            "system",
            "entity_type",
            "entity_id",
            name=op.f("uq_accounting_sync_records_system_entity_type_entity_id"),
        ),
        sa.UniqueConstraint(
            "system", "external_id", name=op.f("uq_accounting_sync_records_system_external_id")
        ),
    )
    op.create_index(
        op.f("ix_accounting_sync_records_status_updated_at"),
        "accounting_sync_records",
        ["status", "updated_at"],
        unique=False,
    )
    op.create_table(
        "api_clients",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("key_prefix", sa.String(length=16), nullable=False),
        sa.Column("key_hash", sa.String(length=200), nullable=False),
        sa.Column("scopes", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_clients")),
        sa.UniqueConstraint("key_prefix", name=op.f("uq_api_clients_key_prefix")),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("entity_type", sa.String(length=50), nullable=True),
        sa.Column("entity_id", sa.String(length=200), nullable=True),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index(op.f("ix_audit_log_at"), "audit_log", ["at"], unique=False)
    op.create_index(
        op.f("ix_audit_log_entity_type_entity_id_at"),
        "audit_log",
        ["entity_type", "entity_id", "at"],
        unique=False,
    )
    op.create_table(
        "backups",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("location", sa.String(length=1000), nullable=True),
        sa.Column("size_bytes", sa.BigInteger(), nullable=True),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backups")),
    )
    op.create_index(op.f("ix_backups_started_at"), "backups", ["started_at"], unique=False)
    op.create_table(
        "calendar_sync_states",
        sa.Column("calendar_id", sa.String(length=255), nullable=False),
        sa.Column("sync_token", sa.String(length=1024), nullable=True),
        sa.Column("channel_id", sa.String(length=255), nullable=True),
        sa.Column("channel_resource_id", sa.String(length=255), nullable=True),
        sa.Column("channel_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("calendar_id", name=op.f("pk_calendar_sync_states")),
    )
    op.create_table(
        "customers",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("tier", sa.String(length=20), nullable=False),
        sa.Column("preferred_channel", sa.String(length=20), nullable=False),
        sa.Column("opt_outs", sa.JSON(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("city", sa.String(length=100), nullable=True),
        sa.Column("state", sa.String(length=2), nullable=True),
        sa.Column("postal_code", sa.String(length=9), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customers")),
    )
    op.create_index(op.f("ix_customers_email"), "customers", ["email"], unique=False)
    op.create_index(op.f("ix_customers_name"), "customers", ["name"], unique=False)
    op.create_index(op.f("ix_customers_phone"), "customers", ["phone"], unique=False)
    op.create_table(
        "events",
        sa.Column("id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("dispatched_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_events")),
    )
    op.create_index(op.f("ix_events_type_occurred_at"), "events", ["type", "occurred_at"], unique=False)
    op.create_index(
        "ix_events_undispatched",
        "events",
        ["occurred_at"],
        unique=False,
        postgresql_where=sa.text("dispatched_at IS NULL"),
        sqlite_where=sa.text("dispatched_at IS NULL"),
    )
    op.create_table(
        "feature_flags",
        sa.Column("key", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.String(length=500), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=200), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_feature_flags")),
    )
    op.create_table(
        "secrets",
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("ciphertext", sa.LargeBinary(), nullable=False),
        sa.Column("key_id", sa.String(length=50), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rotated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_secrets")),
    )
    op.create_table(
        "technicians",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=True),
        sa.Column("email", sa.String(length=254), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("working_hours", sa.JSON(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("google_calendar_id", sa.String(length=255), nullable=True),
        sa.Column("last_assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_technicians")),
    )
    op.create_index(op.f("ix_technicians_phone"), "technicians", ["phone"], unique=False)
    op.create_index(op.f("ix_technicians_region_active"), "technicians", ["region", "active"], unique=False)
    op.create_table(
        "accounting_sync_audit",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("record_id", sa.String(length=36), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("operation", sa.String(length=50), nullable=False),
        sa.Column("request", sa.JSON(), nullable=True),
        sa.Column("response", sa.JSON(), nullable=True),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(length=2000), nullable=True),
        sa.ForeignKeyConstraint(
            ["record_id"],
            ["accounting_sync_records.id"],
            name=op.f("fk_accounting_sync_audit_record_id_accounting_sync_records"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounting_sync_audit")),
    )
    op.create_index(
        op.f("ix_accounting_sync_audit_record_id_at"),
        "accounting_sync_audit",
        ["record_id", "at"],
        unique=False,
    )
    op.create_table(
        "rule_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("rule_id", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("skip_reason", sa.String(length=500), nullable=True),
        sa.Column("dedupe_key", sa.String(length=500), nullable=True),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("held_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_rule_runs_event_id_events")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_runs")),
    )
    op.create_index(op.f("ix_rule_runs_event_id_rule_id"), "rule_runs", ["event_id", "rule_id"], unique=False)
    op.create_index(
        op.f("ix_rule_runs_rule_id_created_at"), "rule_runs", ["rule_id", "created_at"], unique=False
    )
    op.create_index(
        op.f("ix_rule_runs_status_created_at"), "rule_runs", ["status", "created_at"], unique=False
    )
    op.create_table(
        "service_orders",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=False),
        sa.Column("technician_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_reason", sa.String(length=500), nullable=True),
        sa.Column("priority", sa.String(length=10), nullable=False),
        sa.Column("description", sa.String(length=2000), nullable=False),
        sa.Column("required_skills", sa.JSON(), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("address", sa.String(length=300), nullable=True),
        sa.Column("scheduled_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("scheduled_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sla_due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_service_orders_amount_not_negative")),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_service_orders_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["technician_id"], ["technicians.id"], name=op.f("fk_service_orders_technician_id_technicians")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_orders")),
    )
    op.create_index(op.f("ix_service_orders_customer_id"), "service_orders", ["customer_id"], unique=False)
    op.create_index(op.f("ix_service_orders_sla_due_at"), "service_orders", ["sla_due_at"], unique=False)
    op.create_index(
        op.f("ix_service_orders_status_created_at"), "service_orders", ["status", "created_at"], unique=False
    )
    op.create_index(
        op.f("ix_service_orders_technician_id"), "service_orders", ["technician_id"], unique=False
    )
    op.create_index(
        "ix_service_orders_unassigned_created_at",
        "service_orders",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("technician_id IS NULL"),
        sqlite_where=sa.text("technician_id IS NULL"),
    )
    op.create_table(
        "whatsapp_conversations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("last_inbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_outbound_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_whatsapp_conversations_customer_id_customers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_conversations")),
        sa.UniqueConstraint("phone", name=op.f("uq_whatsapp_conversations_phone")),
    )
    op.create_index(
        op.f("ix_whatsapp_conversations_customer_id"), "whatsapp_conversations", ["customer_id"], unique=False
    )
    op.create_table(
        "appointments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("technician_id", sa.String(length=36), nullable=True),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("notes", sa.String(length=1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["service_orders.id"], name=op.f("fk_appointments_order_id_service_orders")
        ),
        sa.ForeignKeyConstraint(
            ["technician_id"], ["technicians.id"], name=op.f("fk_appointments_technician_id_technicians")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appointments")),
    )
    op.create_index(
        "ix_appointments_active_starts_at",
        "appointments",
        ["starts_at"],
        unique=False,
        postgresql_where=sa.text("status IN ('scheduled', 'confirmed')"),
        sqlite_where=sa.text("status IN ('scheduled', 'confirmed')"),
    )
    op.create_index(op.f("ix_appointments_order_id"), "appointments", ["order_id"], unique=False)
    op.create_index(
        op.f("ix_appointments_technician_id_starts_at"),
        "appointments",
        ["technician_id", "starts_at"],
        unique=False,
    )
    op.create_table(
        "invoices",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.String(length=40), nullable=False),
        sa.Column("order_id", sa.String(length=36), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("amount_paid", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("external_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("amount >= 0", name=op.f("ck_invoices_amount_not_negative")),
        sa.CheckConstraint("amount_paid >= 0", name=op.f("ck_invoices_amount_paid_not_negative")),
        sa.ForeignKeyConstraint(
            ["order_id"], ["service_orders.id"], name=op.f("fk_invoices_order_id_service_orders")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_invoices")),
        sa.UniqueConstraint("number", name=op.f("uq_invoices_number")),
    )
    op.create_index(op.f("ix_invoices_order_id"), "invoices", ["order_id"], unique=False)
    op.create_index(
        "ix_invoices_unpaid_due_date",
        "invoices",
        ["due_date"],
        unique=False,
        postgresql_where=sa.text("status IN ('issued', 'partially_paid')"),
        sqlite_where=sa.text("status IN ('issued', 'partially_paid')"),
    )
    op.create_table(
        "rule_steps",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("step_key", sa.String(length=200), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("fallback_of", sa.String(length=36), nullable=True),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("idempotency_key", sa.String(length=300), nullable=False),
        sa.Column("last_error", sa.String(length=2000), nullable=True),
        sa.Column("error_code", sa.String(length=100), nullable=True),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["fallback_of"], ["rule_steps.id"], name=op.f("fk_rule_steps_fallback_of_rule_steps")
        ),
        sa.ForeignKeyConstraint(["run_id"], ["rule_runs.id"], name=op.f("fk_rule_steps_run_id_rule_runs")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rule_steps")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_rule_steps_idempotency_key")),
    )
    op.create_index(op.f("ix_rule_steps_next_attempt_at"), "rule_steps", ["next_attempt_at"], unique=False)
    op.create_index(op.f("ix_rule_steps_run_id_position"), "rule_steps", ["run_id", "position"], unique=False)
    op.create_index(
        op.f("ix_rule_steps_status_queued_at"), "rule_steps", ["status", "queued_at"], unique=False
    )
    op.create_table(
        "calendar_links",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("appointment_id", sa.String(length=36), nullable=False),
        sa.Column("calendar_id", sa.String(length=255), nullable=False),
        sa.Column("google_event_id", sa.String(length=1024), nullable=False),
        sa.Column("etag", sa.String(length=255), nullable=True),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["appointment_id"],
            ["appointments.id"],
            name=op.f("fk_calendar_links_appointment_id_appointments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calendar_links")),
        sa.UniqueConstraint("appointment_id", name=op.f("uq_calendar_links_appointment_id")),
        sa.UniqueConstraint(
            "calendar_id", "google_event_id", name=op.f("uq_calendar_links_calendar_id_google_event_id")
        ),
    )
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("step_id", sa.String(length=36), nullable=False),
        sa.Column("rule_id", sa.String(length=200), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=True),
        sa.Column("action", sa.String(length=100), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(length=2000), nullable=False),
        sa.Column("error_code", sa.String(length=100), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolution", sa.String(length=20), nullable=True),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["event_id"], ["events.id"], name=op.f("fk_dead_letters_event_id_events")),
        sa.ForeignKeyConstraint(
            ["step_id"], ["rule_steps.id"], name=op.f("fk_dead_letters_step_id_rule_steps")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_dead_letters")),
    )
    op.create_index(
        op.f("ix_dead_letters_rule_id_created_at"), "dead_letters", ["rule_id", "created_at"], unique=False
    )
    op.create_index(op.f("ix_dead_letters_step_id"), "dead_letters", ["step_id"], unique=False)
    op.create_index(
        "ix_dead_letters_unresolved",
        "dead_letters",
        ["created_at"],
        unique=False,
        postgresql_where=sa.text("resolved_at IS NULL"),
        sqlite_where=sa.text("resolved_at IS NULL"),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("step_id", sa.String(length=36), nullable=True),
        sa.Column("customer_id", sa.String(length=36), nullable=True),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("recipient", sa.String(length=254), nullable=False),
        sa.Column("template", sa.String(length=100), nullable=True),
        sa.Column("subject", sa.String(length=300), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("encoding", sa.String(length=10), nullable=True),
        sa.Column("segments", sa.Integer(), nullable=True),
        sa.Column("provider", sa.String(length=50), nullable=True),
        sa.Column("provider_id", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("status_history", sa.JSON(), nullable=False),
        sa.Column("error_code", sa.String(length=100), nullable=True),
        sa.Column("error_message", sa.String(length=2000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["customer_id"], ["customers.id"], name=op.f("fk_notifications_customer_id_customers")
        ),
        sa.ForeignKeyConstraint(
            ["step_id"], ["rule_steps.id"], name=op.f("fk_notifications_step_id_rule_steps")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("provider", "provider_id", name=op.f("uq_notifications_provider_provider_id")),
    )
    op.create_index(
        op.f("ix_notifications_customer_id_created_at"),
        "notifications",
        ["customer_id", "created_at"],
        unique=False,
    )
    op.create_index(
        op.f("ix_notifications_status_created_at"), "notifications", ["status", "created_at"], unique=False
    )
    op.create_index(op.f("ix_notifications_step_id"), "notifications", ["step_id"], unique=False)
    op.create_table(
        "payments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("invoice_id", sa.String(length=36), nullable=False),
        sa.Column("amount", sa.Numeric(precision=12, scale=2), nullable=False),
        sa.Column("method", sa.String(length=20), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("external_ids", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.ForeignKeyConstraint(
            ["invoice_id"], ["invoices.id"], name=op.f("fk_payments_invoice_id_invoices")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_payments")),
    )
    op.create_index(op.f("ix_payments_invoice_id"), "payments", ["invoice_id"], unique=False)
    op.create_index(op.f("ix_payments_paid_at"), "payments", ["paid_at"], unique=False)
    op.create_table(
        "whatsapp_messages",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("conversation_id", sa.String(length=36), nullable=False),
        sa.Column("notification_id", sa.String(length=36), nullable=True),
        sa.Column("direction", sa.String(length=10), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("template", sa.String(length=100), nullable=True),
        sa.Column("provider_id", sa.String(length=100), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("error_code", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["whatsapp_conversations.id"],
            name=op.f("fk_whatsapp_messages_conversation_id_whatsapp_conversations"),
        ),
        sa.ForeignKeyConstraint(
            ["notification_id"],
            ["notifications.id"],
            name=op.f("fk_whatsapp_messages_notification_id_notifications"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_whatsapp_messages")),
        sa.UniqueConstraint("provider_id", name=op.f("uq_whatsapp_messages_provider_id")),
    )
    op.create_index(
        op.f("ix_whatsapp_messages_conversation_id_created_at"),
        "whatsapp_messages",
        ["conversation_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_whatsapp_messages_conversation_id_created_at"), table_name="whatsapp_messages")
    op.drop_table("whatsapp_messages")
    op.drop_index(op.f("ix_payments_paid_at"), table_name="payments")
    op.drop_index(op.f("ix_payments_invoice_id"), table_name="payments")
    op.drop_table("payments")
    op.drop_index(op.f("ix_notifications_step_id"), table_name="notifications")
    op.drop_index(op.f("ix_notifications_status_created_at"), table_name="notifications")
    op.drop_index(op.f("ix_notifications_customer_id_created_at"), table_name="notifications")
    op.drop_table("notifications")
    op.drop_index(
        "ix_dead_letters_unresolved",
        table_name="dead_letters",
        postgresql_where=sa.text("resolved_at IS NULL"),
        sqlite_where=sa.text("resolved_at IS NULL"),
    )
    op.drop_index(op.f("ix_dead_letters_step_id"), table_name="dead_letters")
    op.drop_index(op.f("ix_dead_letters_rule_id_created_at"), table_name="dead_letters")
    op.drop_table("dead_letters")
    op.drop_table("calendar_links")
    op.drop_index(op.f("ix_rule_steps_status_queued_at"), table_name="rule_steps")
    op.drop_index(op.f("ix_rule_steps_run_id_position"), table_name="rule_steps")
    op.drop_index(op.f("ix_rule_steps_next_attempt_at"), table_name="rule_steps")
    op.drop_table("rule_steps")
    op.drop_index(
        "ix_invoices_unpaid_due_date",
        table_name="invoices",
        postgresql_where=sa.text("status IN ('issued', 'partially_paid')"),
        sqlite_where=sa.text("status IN ('issued', 'partially_paid')"),
    )
    op.drop_index(op.f("ix_invoices_order_id"), table_name="invoices")
    op.drop_table("invoices")
    op.drop_index(op.f("ix_appointments_technician_id_starts_at"), table_name="appointments")
    op.drop_index(op.f("ix_appointments_order_id"), table_name="appointments")
    op.drop_index(
        "ix_appointments_active_starts_at",
        table_name="appointments",
        postgresql_where=sa.text("status IN ('scheduled', 'confirmed')"),
        sqlite_where=sa.text("status IN ('scheduled', 'confirmed')"),
    )
    op.drop_table("appointments")
    op.drop_index(op.f("ix_whatsapp_conversations_customer_id"), table_name="whatsapp_conversations")
    op.drop_table("whatsapp_conversations")
    op.drop_index(
        "ix_service_orders_unassigned_created_at",
        table_name="service_orders",
        postgresql_where=sa.text("technician_id IS NULL"),
        sqlite_where=sa.text("technician_id IS NULL"),
    )
    op.drop_index(op.f("ix_service_orders_technician_id"), table_name="service_orders")
    op.drop_index(op.f("ix_service_orders_status_created_at"), table_name="service_orders")
    op.drop_index(op.f("ix_service_orders_sla_due_at"), table_name="service_orders")
    op.drop_index(op.f("ix_service_orders_customer_id"), table_name="service_orders")
    op.drop_table("service_orders")
    op.drop_index(op.f("ix_rule_runs_status_created_at"), table_name="rule_runs")
    op.drop_index(op.f("ix_rule_runs_rule_id_created_at"), table_name="rule_runs")
    op.drop_index(op.f("ix_rule_runs_event_id_rule_id"), table_name="rule_runs")
    op.drop_table("rule_runs")
    op.drop_index(op.f("ix_accounting_sync_audit_record_id_at"), table_name="accounting_sync_audit")
    op.drop_table("accounting_sync_audit")
    op.drop_index(op.f("ix_technicians_region_active"), table_name="technicians")
    op.drop_index(op.f("ix_technicians_phone"), table_name="technicians")
    op.drop_table("technicians")
    op.drop_table("secrets")
    op.drop_table("feature_flags")
    op.drop_index(
        "ix_events_undispatched",
        table_name="events",
        postgresql_where=sa.text("dispatched_at IS NULL"),
        sqlite_where=sa.text("dispatched_at IS NULL"),
    )
    op.drop_index(op.f("ix_events_type_occurred_at"), table_name="events")
    op.drop_table("events")
    op.drop_index(op.f("ix_customers_phone"), table_name="customers")
    op.drop_index(op.f("ix_customers_name"), table_name="customers")
    op.drop_index(op.f("ix_customers_email"), table_name="customers")
    op.drop_table("customers")
    op.drop_table("calendar_sync_states")
    op.drop_index(op.f("ix_backups_started_at"), table_name="backups")
    op.drop_table("backups")
    op.drop_index(op.f("ix_audit_log_entity_type_entity_id_at"), table_name="audit_log")
    op.drop_index(op.f("ix_audit_log_at"), table_name="audit_log")
    op.drop_table("audit_log")
    op.drop_table("api_clients")
    op.drop_index(op.f("ix_accounting_sync_records_status_updated_at"), table_name="accounting_sync_records")
    op.drop_table("accounting_sync_records")
