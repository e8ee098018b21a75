"""The payload of every event despacho itself emits, declared once: the event catalogue's source.

Each domain event type has a pydantic model of its ``data``. ``despacho schema`` writes
their JSON Schemas to ``schemas/events/`` and ``docs/events.md``; ``despacho validate``
checks the ``data.*`` paths rules read against them. The emitters (``store.service_orders``,
``store.billing``, the engine's follow-ups and scheduler, the Twilio webhook) build their
payloads with ``store.payloads``; tests emit each type through those real code paths and
validate what they stored against these models, so the two cannot drift apart. The models
forbid extra keys for the same reason: a field an emitter adds must be declared here.

It lives in the store, the lowest layer, because the emitters sit in every layer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from store.reserved_events import SCHEDULE_EVENT_TYPE


class Payload(BaseModel):
    # Built on first use: every command imports the catalogue, few validate a payload.
    model_config = ConfigDict(extra="forbid", populate_by_name=True, defer_build=True)


# --- records, as store.payloads.FIELDS hands them out ---------------------------------------------

class CustomerRecord(Payload):
    id: str
    name: str
    email: str | None
    phone: str | None = Field(description="E.164, e.g. +5511987654321")
    tier: str
    preferred_channel: str = Field(description="whatsapp, sms or email")
    opt_outs: list[str] = Field(description="Channels the customer opted out of")
    time_zone: str
    address: str | None
    city: str | None
    state: str | None


class TechnicianRecord(Payload):
    id: str
    name: str
    phone: str | None
    email: str | None
    region: str
    skills: list[str]
    google_calendar_id: str | None
    time_zone: str | None


class OrderRecord(Payload):
    id: str
    status: str
    priority: str
    description: str
    region: str
    address: str | None
    required_skills: list[str]
    scheduled_start: datetime | None
    scheduled_end: datetime | None
    sla_due_at: datetime | None
    amount: float
    customer_id: str
    technician_id: str | None
    created_at: datetime


class AppointmentRecord(Payload):
    id: str
    order_id: str
    technician_id: str | None
    starts_at: datetime
    ends_at: datetime
    status: str = Field(description="scheduled, confirmed, completed, cancelled or no_show")


class InvoiceRecord(Payload):
    id: str
    number: str
    order_id: str
    amount: float
    amount_paid: float
    due_date: date
    status: str
    issued_at: datetime
    external_ids: dict[str, Any] = Field(description="Ids in accounting systems, e.g. {\"omie\": \"123\"}")


class OverdueInvoiceRecord(InvoiceRecord):
    amount_due: float = Field(description="amount - amount_paid")
    days_overdue: int = Field(description="Whole days past the due date")


class PaymentRecord(Payload):
    id: str
    invoice_id: str
    amount: float
    method: str
    paid_at: datetime
    external_ids: dict[str, Any]


# --- payloads -------------------------------------------------------------------------------------

class OrderPayload(Payload):
    order: OrderRecord
    customer: CustomerRecord
    technician: TechnicianRecord | None = Field(description="null while nobody is assigned")


class OrderAssignedPayload(OrderPayload):
    previous_status: str
    previous_technician_id: str | None


class OrderStatusPayload(OrderPayload):
    previous_status: str
    status: str
    reason: str | None


class InvoicePayload(Payload):
    invoice: InvoiceRecord
    order: OrderRecord
    customer: CustomerRecord


class PaymentPayload(InvoicePayload):
    payment: PaymentRecord


class RefundRecord(Payload):
    amount: float = Field(description="What the provider gave back")
    refunded_at: datetime
    system: str = Field(description="The provider that refunded, e.g. asaas")
    external_id: str = Field(description="The provider's id of the refunded payment")


class RefundPayload(PaymentPayload):
    refund: RefundRecord


class OverduePayload(Payload):
    invoice: OverdueInvoiceRecord
    order: OrderRecord
    customer: CustomerRecord


class ActionFailedPayload(Payload):
    rule_id: str
    run_id: str
    event_id: str | None
    step_id: str
    action: str = Field(description="CONNECTOR.ACTION")
    step: str | None = Field(description="The action's id in the rule, when it has one")
    error: str | None
    error_code: str | None
    attempts: int


class AccountingAuthFailedPayload(Payload):
    system: str = Field(description="conta_azul, ...")
    company: str = Field(description="The connected company (accounting connect --company)")
    reason: str = Field(description="What the system answered, e.g. invalid_grant")


class RunCompletedPayload(Payload):
    rule_id: str
    run_id: str
    event_id: str | None
    status: str


class CalendarAuthFailedPayload(Payload):
    connection_id: str
    technician_id: str | None = Field(description="None for the shared connection")
    account: str = Field(description="The Google account whose grant was refused")
    reason: str = Field(description="What Google said (invalid_grant: Token has been expired or revoked.)")


class DeadLetterSpikePayload(Payload):
    message: str = Field(description="One line for people, in English")
    count: int = Field(description="Steps that failed for good in the window")
    window_minutes: int
    by_action: dict[str, int] = Field(description="connector.action -> how many of them")


class RulesRejectedPayload(Payload):
    message: str = Field(description="One line for people, in English")
    digest: str = Field(description="SHA-256 of the rule and template files that were refused")
    running_version: str = Field(description="The rule set that stays in force (git commit or sha256:...)")
    daemon: str = Field(description="The daemon that refused it (host:pid:random, or the host)")
    problems: list[str] = Field(description="The first problems, file:line:column: path: message")


class ConnectorFailingPayload(Payload):
    message: str
    connector: str
    action: str = Field(description="connector.action")
    count: int = Field(description="Its calls that failed for good in the window")
    window_minutes: int


class RelayBacklogPayload(Payload):
    message: str
    events: int = Field(description="Stored events not planned yet")
    oldest_seconds: int = Field(description="How long the oldest has waited")


class ChannelExpiringPayload(Payload):
    message: str
    calendar_id: str
    expires_at: datetime | None = Field(description="When Google ends the push channel")


class BackupFailedPayload(Payload):
    """A backup, its verification or the weekly repository check failed (``connectors.backup``)."""

    backup_id: str | None = Field(description="The backups row of the attempt (None for the weekly check)")
    stage: str = Field(description="backup (dump or upload), verify (test restore) or check (weekly "
                                   "restic check --read-data-subset)")
    reason: str = Field(description="failed, corrupted (verification found damage), unavailable (repository "
                                     "or database unreachable, no password), locked or refused")
    error: str = Field(description="What went wrong, one line (never the password)")
    snapshot_id: str | None = Field(description="The snapshot concerned, when one was made")
    repository: str = Field(description="The repository, credentials masked")


class BackupMissingPayload(Payload):
    """No backup succeeded for ``max_age_hours``: at most one a day (``connectors.backup``)."""

    last_success_at: datetime | None = Field(description="When the last backup succeeded; None: never")
    max_age_hours: float
    repository: str = Field(description="The repository, credentials masked")


class SchedulePayload(Payload):
    """A fire's own event; with ``for_each`` each row of the query is an evaluation's ``data``."""

    model_config = ConfigDict(extra="allow")
    for_each: str | None = Field(None, description="The named query, when the trigger has one")
    rows: int | None = Field(None, description="How many rows the query found")


class InboundCustomer(Payload):
    id: str
    name: str
    phone: str | None
    email: str | None


class WhatsAppInboundPayload(Payload):
    message_sid: str
    from_: str = Field(alias="from", description="The sender's number, E.164")
    to: str
    body: str
    text: str = Field(description="The body without surrounding spaces")
    profile_name: str | None
    num_media: int
    conversation_id: str | None
    customer: InboundCustomer | None = Field(description="The customer with this number, if any")


class CalendarLinkRef(Payload):
    calendar_id: str
    google_event_id: str


class AppointmentChangedPayload(Payload):
    """Emitted by Google Calendar sync, and posted by the ERP (``POST /v1/events``) as well.

    Sync's events carry ``changed_by`` and the previous times, and no ``calendar_link``: Google
    has the change already, so a rule's ``has(data.calendar_link)`` step does not write it back.
    The ERP's carry ``calendar_link`` once the visit is on a calendar.
    """

    appointment: AppointmentRecord = Field(description="The visit after the change")
    order: OrderRecord
    customer: CustomerRecord
    technician: TechnicianRecord | None = Field(None, description="null while nobody is assigned")
    previous_starts_at: datetime | None = Field(None, description="Set by Google Calendar sync")
    previous_ends_at: datetime | None = Field(None, description="Set by Google Calendar sync")
    previous_status: str | None = Field(None, description="Set by Google Calendar sync")
    changed_by: str | None = Field(
        None, description="google: an edit in Google Calendar (absent in events other systems post)")
    calendar_link: CalendarLinkRef | None = Field(
        None, description="Present in posted events once the visit is on a calendar; never from sync")


class CalendarSyncRequestedPayload(Payload):
    calendar_id: str
    resource_state: str = Field(description="exists or not_exists, as Google's push said")
    message_number: int = Field(description="X-Goog-Message-Number of the push")
    channel_id: str


@dataclass(frozen=True)
class EventSpec:
    event_type: str
    payload: type[Payload]
    producer: str
    description: str


DOMAIN_EVENTS: dict[str, EventSpec] = {spec.event_type: spec for spec in (
    EventSpec("service_order.created", OrderPayload, "store.service_orders.create_order",
              "A service order was opened"),
    EventSpec("service_order.assigned", OrderAssignedPayload, "store.service_orders.assign_technician",
              "A technician was assigned (or reassigned) to an order"),
    EventSpec("service_order.status_changed", OrderStatusPayload, "store.service_orders.set_status",
              "An order moved to another status"),
    EventSpec("service_order.completed", OrderStatusPayload, "store.service_orders.set_status",
              "An order was completed (after service_order.status_changed)"),
    EventSpec("service_order.cancelled", OrderStatusPayload, "store.service_orders.set_status",
              "An order was cancelled (after service_order.status_changed)"),
    EventSpec("invoice.issued", InvoicePayload, "store.billing.issue_invoice", "An invoice was issued"),
    EventSpec("payment.received", PaymentPayload, "store.billing.record_payment",
              "A payment towards an invoice was recorded"),
    EventSpec("invoice.paid", PaymentPayload, "store.billing.record_payment",
              "A payment settled an invoice (after payment.received)"),
    EventSpec("payment.refunded", RefundPayload, "store.provider_payments.take_refund",
              "A payment provider refunded a payment; the invoice becomes refunded"),
    EventSpec("invoice.overdue", OverduePayload, "store.billing.record_overdue_events",
              "Once a day per unpaid invoice past its due date (the billing job)"),
    EventSpec("action.failed", ActionFailedPayload, "engine.runtime.followups",
              "An action failed for good (its fallback, if any, runs too)"),
    EventSpec("accounting.auth_failed", AccountingAuthFailedPayload,
              "connectors.accounting.conta_azul_auth",
              "An accounting system refused the stored grant: reconnect (once per broken connection)"),
    EventSpec("run.completed", RunCompletedPayload, "engine.runtime.followups", "A rule's run ended"),
    EventSpec("calendar.auth_failed", CalendarAuthFailedPayload, "connectors.calendar.auth",
              "Google refused a calendar connection's grant: it is marked broken until reconnected"),
    EventSpec("backup.failed", BackupFailedPayload, "connectors.backup.records",
              "A backup, its test restore or the weekly repository check failed"),
    EventSpec("backup.missing", BackupMissingPayload, "engine.runtime.backup_jobs",
              "No backup succeeded within connectors.backup.max_age_hours (once a day at most)"),
    EventSpec(SCHEDULE_EVENT_TYPE, SchedulePayload, "engine.runtime.scheduled",
              "A cron or every trigger fired"),
    EventSpec("whatsapp.message_received", WhatsAppInboundPayload, "api.webhooks.twilio",
              "A customer sent a WhatsApp message to the company's number"),
    EventSpec("appointment.rescheduled", AppointmentChangedPayload, "store.appointments.reschedule",
              "A visit was moved (by Google Calendar sync: someone moved its event)"),
    EventSpec("appointment.cancelled", AppointmentChangedPayload, "store.appointments.cancel",
              "A visit was cancelled (by Google Calendar sync: its event was cancelled or deleted)"),
    EventSpec("calendar.sync_requested", CalendarSyncRequestedPayload, "api.webhooks.google_calendar",
              "Google pushed a change notice for a watched calendar; the daemon syncs it"),
    EventSpec("ops.dead_letter_spike", DeadLetterSpikePayload, "engine.runtime.ops_alerts",
              "Many steps failed for good in a short time (at most one event an hour)"),
    EventSpec("ops.connector_failing", ConnectorFailingPayload, "engine.runtime.ops_alerts",
              "One connector action keeps failing for good (at most one event an hour per action)"),
    EventSpec("ops.relay_backlog", RelayBacklogPayload, "engine.runtime.ops_alerts",
              "Stored events wait too long to be planned (at most one event an hour)"),
    EventSpec("ops.rules_rejected", RulesRejectedPayload, "engine.runtime.daemon",
              "A new rule set was refused: it does not load here, or on another daemon (one event per set)"),
    EventSpec("calendar.channel_expiring", ChannelExpiringPayload, "engine.runtime.ops_alerts",
              "A Google Calendar push channel is about to end and was not renewed"),
)}
