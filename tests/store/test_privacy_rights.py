"""Subjects' rights on the demo company plus one person with data everywhere, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from store.db import session_scope
from store.errors import NotFound, ValidationFailed
from store.event_payloads import DOMAIN_EVENTS
from store.models import (
    AuditLogEntry,
    ConsentRecord,
    Customer,
    Event,
    Invoice,
    Notification,
    Payment,
    PrivacyRequest,
    Suppression,
)
from store.privacy.anonymise import OpenOrders, anonymise_subject
from store.privacy.correct import correct_subject
from store.privacy.export import export_subject
from store.privacy.processors import subject_processors
from store.privacy.requests import list_requests, open_request, serve
from store.privacy.scrub import ANONYMOUS_NAME
from store.privacy.subjects import AmbiguousSubject, find_subject
from tests.support.privacy import EMAIL, NAME, PHONE, build_world, reopen

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("typed", [PHONE, "(11) 98765-4321", "+55 11 98765-4321", EMAIL.upper()])
def test_a_person_is_found_by_phone_or_email_as_people_type_them(engine: sa.Engine, typed: str) -> None:
    world = build_world(engine, AT)
    with session_scope(engine) as session:
        assert find_subject(session, typed).id == world.customer_id


def test_a_person_is_found_by_formatted_cpf_and_by_id(engine: sa.Engine) -> None:
    world = build_world(engine, AT)
    with session_scope(engine) as session:
        tax_id = find_subject(session, world.customer_id).tax_id
        assert tax_id is not None
        formatted = f"{tax_id[:3]}.{tax_id[3:6]}.{tax_id[6:9]}-{tax_id[9:]}"
        assert find_subject(session, formatted).id == world.customer_id


def test_an_unknown_or_shared_contact_names_the_person_field(engine: sa.Engine) -> None:
    world = build_world(engine, AT)
    with session_scope(engine) as session:
        session.add(Customer(name="Outra Maria", email=EMAIL))
    with session_scope(engine) as session, pytest.raises(NotFound) as missing:
        find_subject(session, "+55 11 91234-0000")
    with session_scope(engine) as session, pytest.raises(AmbiguousSubject) as shared:
        find_subject(session, EMAIL)
    assert missing.value.field == "person" and shared.value.field == "person"
    assert world.customer_id in str(shared.value)


def test_export_holds_the_persons_records_and_nobody_elses(engine: sa.Engine) -> None:
    world = build_world(engine, AT)
    with session_scope(engine) as session:
        document = export_subject(session, find_subject(session, world.customer_id))
    assert document["customer"]["name"] == NAME
    assert [o["id"] for o in document["service_orders"]] == [world.order_id]
    assert [i["id"] for i in document["invoices"]] == [world.invoice_id]
    assert [p["id"] for p in document["payments"]] == [world.payment_id]
    assert {e["id"] for e in document["events"]} == set(world.event_ids)
    assert len(document["notifications"]) == 3 and len(document["whatsapp_messages"]) == 1
    assert document["calendar_links"] and document["accounting_records"] and document["audit_log"]
    assert world.other_id not in json.dumps(document)
    assert document["consent_records"] == [] and document["suppressions"] == []


def test_export_includes_the_consent_records_and_the_suppressions_of_the_person(engine: sa.Engine) -> None:
    world = build_world(engine, AT)
    with session_scope(engine) as session:
        session.add(ConsentRecord(customer_id=world.customer_id, channel="whatsapp", decision="granted",
                                  source="service_order:OS-1"))
        session.add(Suppression(address=PHONE, channel="sms", reason="STOP", source="twilio"))
        session.add(Suppression(address="+5511900000001", channel="sms", reason="STOP", source="twilio"))
    with session_scope(engine) as session:
        document = export_subject(session, find_subject(session, world.customer_id))
    assert [row["channel"] for row in document["consent_records"]] == ["whatsapp"]
    assert [row["address"] for row in document["suppressions"]] == [PHONE]


def test_processors_come_from_what_was_recorded(engine: sa.Engine) -> None:
    world = build_world(engine, AT)
    with session_scope(engine) as session:
        uses = {u.processor: u for u in subject_processors(session, find_subject(session, world.customer_id))}
    assert set(uses) == {"Twilio", "SMTP server (email)", "Google (Calendar)", "Omie", "erp.example.com"}
    # the local outbox (file) is no processor
    assert uses["Twilio"].first_at == AT and uses["Twilio"].count == 1


def test_anonymise_keeps_fiscal_records_and_clears_the_rest(engine: sa.Engine) -> None:
    world = build_world(engine, AT)
    with session_scope(engine) as session:
        invoice_before = session.get(Invoice, world.invoice_id).model_dump()  # type: ignore[union-attr]
        customer = find_subject(session, world.customer_id)
        tax_id = customer.tax_id
        result = anonymise_subject(session, customer, actor="user:dpo", now=AT)
    with session_scope(engine) as session:
        customer = session.get(Customer, world.customer_id)
        assert customer is not None and customer.name == ANONYMOUS_NAME and customer.phone is None
        assert customer.email is None and customer.address is None and customer.deleted_at is not None
        assert customer.tax_id == tax_id  # the invoices' fiscal identity, kept 5 years
        assert session.get(Invoice, world.invoice_id).model_dump() == invoice_before  # type: ignore[union-attr]
        assert session.get(Payment, world.payment_id) is not None
        note = session.get(Notification, world.notification_id)
        assert note is not None and note.body == "" and PHONE not in note.recipient
        document = json.dumps(export_subject(session, customer), ensure_ascii=False)
        for event_id in world.event_ids:
            event = session.get(Event, event_id)
            assert event is not None
            DOMAIN_EVENTS[event.type].payload.model_validate(event.payload)  # still a valid payload
    for identifier in (NAME, PHONE, EMAIL, "98765-4321", "Rua das Flores", "Pode vir"):
        assert identifier not in document
    assert result.tax_id_kept_until == datetime(2026, 11, 29, 12, tzinfo=UTC) + timedelta(days=1827)
    assert result.deleted["whatsapp_conversations"] == 1


def test_anonymise_twice_changes_nothing_the_second_time(engine: sa.Engine) -> None:
    world = build_world(engine, AT)
    with session_scope(engine) as session:
        anonymise_subject(session, find_subject(session, world.customer_id), actor="user:dpo")
    with session_scope(engine) as session:
        again = anonymise_subject(session, find_subject(session, world.customer_id), actor="user:dpo")
    assert not again.changed and not again.deleted


def test_anonymise_refuses_open_orders_unless_forced(engine: sa.Engine) -> None:
    world = build_world(engine, AT)
    reopen(engine, world.order_id)
    with session_scope(engine) as session, pytest.raises(OpenOrders) as refused:
        anonymise_subject(session, find_subject(session, world.customer_id), actor="user:dpo")
    assert refused.value.field == "person" and world.order_id in str(refused.value)
    with session_scope(engine) as session:
        result = anonymise_subject(session, find_subject(session, world.customer_id), actor="user:dpo",
                                   force=True)
    assert result.forced


def test_anonymise_drops_the_cpf_when_the_invoices_are_older_than_five_years(engine: sa.Engine) -> None:
    world = build_world(engine, AT)
    with session_scope(engine) as session:
        customer = find_subject(session, world.customer_id)
        result = anonymise_subject(session, customer, actor="user:dpo", now=AT + timedelta(days=1900))
        assert customer.tax_id is None and result.tax_id_kept_until is None


def test_correction_goes_through_the_stores_checks_and_is_audited_without_values(engine: sa.Engine) -> None:
    world = build_world(engine, AT)
    with session_scope(engine) as session:
        customer = find_subject(session, world.customer_id)
        changed = correct_subject(session, customer, {"phone": "(11) 97777-1234", "city": "Campinas"},
                                  actor="user:dpo")
        assert changed == ["phone", "city"] and customer.phone == "+5511977771234"
    with session_scope(engine) as session:
        corrections = sa.select(AuditLogEntry).where(AuditLogEntry.action == "privacy.correct")
        entry = session.exec(corrections).scalar_one()
        assert entry.details == {"fields": ["phone", "city"]}
    with pytest.raises(ValidationFailed) as bad_phone, session_scope(engine) as session:
        correct_subject(session, find_subject(session, world.customer_id), {"phone": "123"}, actor="user:dpo")
    with pytest.raises(ValidationFailed) as not_personal, session_scope(engine) as session:
        correct_subject(session, find_subject(session, world.customer_id), {"tier": "premium"},
                        actor="user:dpo")
    assert bad_phone.value.field == "customer.phone" and not_personal.value.field == "tier"


def test_requests_are_due_in_15_days_and_flagged_when_overdue(engine: sa.Engine) -> None:
    world = build_world(engine, AT)
    with session_scope(engine) as session:
        late = open_request(session, "export", world.customer_id, actor="user:dpo",
                            now=AT - timedelta(days=20))
        fresh = open_request(session, "correct", world.customer_id, actor="user:dpo", now=AT)
        late_id, fresh_id = late.id, fresh.id
        assert fresh.deadline == AT + timedelta(days=15)
    with session_scope(engine) as session:
        views = list_requests(session, now=AT)
        assert [(v.request.id, v.overdue) for v in views] == [(late_id, True), (fresh_id, False)]
        with pytest.raises(ValidationFailed) as wrong_kind:
            serve(session, "anonymise", world.customer_id, actor="user:dpo", request_id=late_id, details={})
        assert wrong_kind.value.field == "request"
        serve(session, "export", world.customer_id, actor="user:dpo", request_id=late_id, details={})
    with session_scope(engine) as session:
        done = session.get(PrivacyRequest, late_id)
        assert done is not None and done.status == "done" and done.closed_at is not None
