"""Every domain event, emitted through the real store code, matches its schema in schemas/events/.

The catalogue (``store.event_payloads``) is written by hand; these tests make the
emitters prove it: a field added to, renamed in or dropped from a payload fails here.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import col, select

from engine.runtime.followups import action_failed, run_completed
from store.appointments import cancel, reschedule
from store.billing import issue_invoice, record_overdue_events, record_payment
from store.db import session_scope
from store.event_payloads import DOMAIN_EVENTS
from store.models import Appointment, Customer, Event, ServiceOrder, Technician
from store.models.runs import RuleRun, RuleStep
from store.payloads import FIELDS
from store.seed import seed_demo
from store.service_orders import ASSIGNABLE, assign_technician, create_order, set_status
from tests.support.catalogue import payload_errors

# emitted elsewhere: the Twilio and Asaas webhooks (tests/api/webhooks), the scheduler
# (tests/engine/runtime), the calendar connector (tests/connectors/calendar/test_auth.py), the Google
# Calendar webhook (tests/api/webhooks/test_google_calendar.py), Conta Azul's token refresh
# (tests/connectors/accounting/conta_azul), the built-in alerts (tests/engine/runtime/test_ops_alerts.py),
# the backup connector and its jobs (tests/connectors/backup), the daemons' refused rule sets
# (tests/engine/runtime/test_scheduler.py)
OTHER_TESTS = {"whatsapp.message_received", "schedule", "calendar.auth_failed", "calendar.sync_requested",
               "payment.refunded", "accounting.auth_failed", "ops.dead_letter_spike", "ops.connector_failing",
               "ops.relay_backlog", "calendar.channel_expiring", "backup.failed", "backup.missing",
               "ops.rules_rejected"}


def stored(engine: sa.Engine) -> list[Event]:
    with session_scope(engine) as s:
        return list(s.exec(select(Event).order_by(Event.recorded_at)))


def emit_every_store_event(engine: sa.Engine, at: datetime, customer: Customer,
                           technician: Technician) -> None:
    with session_scope(engine) as s:
        order = create_order(s, customer_id=customer.id, region=technician.region, at=at,
                             required_skills=["eletrica"], amount="480.00", priority="high",
                             address="Rua Augusta, 1500", sla_due_at=at + timedelta(hours=8))
        other = create_order(s, customer_id=customer.id, region=technician.region, at=at)
    with session_scope(engine) as s:
        assign_technician(s, order.id, at=at)
        set_status(s, order.id, "in_progress", at=at)
        set_status(s, order.id, "completed", at=at)
        visit = Appointment(order_id=order.id, technician_id=order.technician_id, starts_at=at,
                            ends_at=at + timedelta(hours=2))
        s.add(visit)
        s.flush()
        reschedule(s, visit, at + timedelta(days=1), at + timedelta(days=1, hours=2), changed_by="google",
                   source="google", at=at)
        cancel(s, visit, changed_by="google", source="google", at=at)
        set_status(s, other.id, "cancelled", "cliente desistiu", at=at)
    with session_scope(engine) as s:
        invoice = issue_invoice(s, order.id, "480.00", at.date() + timedelta(days=5), at=at)
        late = issue_invoice(s, other.id, "90.00", at.date() - timedelta(days=3), at=at)
    with session_scope(engine) as s:
        record_payment(s, invoice.id, "80.00", "pix", paid_at=at)
        record_payment(s, invoice.id, "400.00", "boleto", paid_at=at, external_ids={"omie": "991"})
        record_overdue_events(s, at, days=1)
    assert late.id


def emit_followups(engine: sa.Engine, at: datetime) -> None:
    with session_scope(engine) as s:
        run = RuleRun(rule_id="technician-assigned-notify-customer", event_id=None, status="failed")
        step = RuleStep(run_id=run.id, action="whatsapp.send", step_key=None, idempotency_key="k1",
                        last_error="outside the 24 h window", error_code="window_closed", attempts=3)
        action_failed(s, run, step, at)
        run_completed(s, run, at)


def test_every_event_the_store_and_the_engine_emit_matches_its_schema(
        engine: sa.Engine, at: datetime, make_customer: Callable[..., Customer],
        make_technician: Callable[..., Technician]) -> None:
    customer = make_customer(email="ana@example.com", phone="+5511987654321", opt_outs=["sms"])
    technician = make_technician(google_calendar_id="joao@example.com")
    emit_every_store_event(engine, at, customer, technician)
    emit_followups(engine, at)

    events = stored(engine)
    errors = [error for event in events for error in payload_errors(event.type, event.payload)]
    assert errors == []
    assert {event.type for event in events} == set(DOMAIN_EVENTS) - OTHER_TESTS


def test_demo_company_events_match_their_schemas(engine: sa.Engine, at: datetime) -> None:
    """The demo seed's records (nulls, long lists, every status) through the real emitters."""
    with session_scope(engine) as s:
        seed_demo(s, seed=3, at=at, customers=20, orders=200)  # a few orders are still open
    with session_scope(engine) as s:
        orders = s.exec(select(ServiceOrder).where(col(ServiceOrder.status).in_(ASSIGNABLE))
                        .order_by(ServiceOrder.id)).all()
        for order in orders[:5]:
            assign_technician(s, order.id, at=at)
        set_status(s, orders[0].id, "cancelled", "sem acesso ao local", at=at)
        record_overdue_events(s, at, days=0)
    events = stored(engine)
    assert {"service_order.assigned", "service_order.cancelled", "invoice.overdue"} <= {
        event.type for event in events}
    assert [error for event in events for error in payload_errors(event.type, event.payload)] == []


def test_the_record_models_list_the_fields_the_payloads_carry() -> None:
    from store.event_payloads import (
        AppointmentRecord,
        CustomerRecord,
        InvoiceRecord,
        OrderRecord,
        PaymentRecord,
        TechnicianRecord,
    )

    models = {"appointment": AppointmentRecord, "customer": CustomerRecord, "technician": TechnicianRecord,
              "order": OrderRecord,
              "invoice": InvoiceRecord, "payment": PaymentRecord}
    for kind, model in models.items():
        assert tuple(model.model_fields) == FIELDS[kind][1], kind
