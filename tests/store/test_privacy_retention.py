"""The retention purge deletes what outlived its policy, in bounded batches, and keeps the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pydantic import ValidationError

from store.db import session_scope
from store.models import AuditLogEntry, DeadLetter, Event, Invoice, Notification, RuleRun, WhatsAppMessage
from store.privacy.retention import purge
from store.privacy.settings import PrivacySettings, RetentionSettings
from tests.support.privacy import build_world

AT = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
LATER = AT + timedelta(days=800)  # past messages (2y), events, runs, dead letters (1y); not audit (5y)


def count(engine: sa.Engine, model: type) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(model.__table__)).scalar_one())


def dispatch_all(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.update(Event.__table__).values(dispatched_at=AT))


def test_the_purge_deletes_old_messages_runs_and_events_and_keeps_invoices(engine: sa.Engine) -> None:
    build_world(engine, AT)
    dispatch_all(engine)
    with session_scope(engine) as session:  # a dead letter resolved: its run may go
        session.exec(sa.update(DeadLetter).values(resolved_at=AT, resolution="discarded"))  # type: ignore[call-overload]
    invoices, audit = count(engine, Invoice), count(engine, AuditLogEntry)
    report = purge(engine, PrivacySettings(purge_batch_size=2), now=LATER)
    assert count(engine, Notification) == 0 and count(engine, WhatsAppMessage) == 0
    assert count(engine, DeadLetter) == 0 and count(engine, RuleRun) == 0 and count(engine, Event) == 0
    assert count(engine, Invoice) == invoices  # no invoice policy: never purged
    assert count(engine, AuditLogEntry) == audit + 1  # kept 5 years, plus the purge's own record
    assert report.complete and report.counts["events"] > 2  # several batches of 2


def test_an_unresolved_dead_letter_keeps_its_run_and_event(engine: sa.Engine) -> None:
    build_world(engine, AT)
    dispatch_all(engine)
    purge(engine, PrivacySettings(), now=LATER)
    assert count(engine, DeadLetter) == 1 and count(engine, RuleRun) == 1
    with engine.connect() as connection:
        kept = connection.execute(sa.select(Event.__table__.c.id)).scalars().all()
    assert len(kept) == 1  # the run's event; every other one is gone


def test_a_dry_run_counts_and_deletes_nothing(engine: sa.Engine) -> None:
    build_world(engine, AT)
    before = count(engine, Notification)
    report = purge(engine, PrivacySettings(), dry_run=True, now=LATER)
    assert report.counts["notifications"] == before and count(engine, Notification) == before


def test_young_records_stay(engine: sa.Engine) -> None:
    build_world(engine, AT)
    dispatch_all(engine)
    before = count(engine, Event), count(engine, Notification)
    purge(engine, PrivacySettings(), now=AT + timedelta(days=30))
    assert (count(engine, Event), count(engine, Notification)) == before


def test_max_batches_leaves_the_rest_for_the_next_pass(engine: sa.Engine) -> None:
    build_world(engine, AT)
    dispatch_all(engine)
    report = purge(engine, PrivacySettings(purge_batch_size=1, purge_max_batches=1), now=LATER)
    assert not report.complete and report.counts["notifications"] == 1


def test_settled_invoices_go_only_under_an_invoice_policy_of_five_years_or_more(engine: sa.Engine) -> None:
    build_world(engine, AT)
    with session_scope(engine) as session:
        session.exec(sa.update(Invoice).values(issued_at=AT - timedelta(days=2000)))  # type: ignore[call-overload]
    settings = PrivacySettings(retention=RetentionSettings(invoices="5y"))
    purge(engine, settings, now=AT)
    with engine.connect() as connection:
        left = connection.execute(sa.select(Invoice.__table__.c.status)).scalars().all()
    assert left and set(left) <= {"issued", "partially_paid"}


def test_a_policy_shorter_than_the_tax_law_is_refused() -> None:
    with pytest.raises(ValidationError, match="shorter than 5 years"):
        RetentionSettings(invoices="4y")
    with pytest.raises(ValidationError, match="years are written as '2y'"):
        RetentionSettings(messages="two years")
    assert RetentionSettings(messages="2y").periods()["messages"] == timedelta(days=731)


def test_an_anonymised_customer_gives_up_the_cpf_once_the_invoices_are_five_years_old(
        engine: sa.Engine) -> None:
    from store.models import Customer
    from store.privacy.anonymise import anonymise_subject

    world = build_world(engine, AT)
    with session_scope(engine) as session:
        customer = session.get(Customer, world.customer_id)
        assert customer is not None
        anonymise_subject(session, customer, actor="user:dpo", now=AT)
    purge(engine, PrivacySettings(), now=AT + timedelta(days=30))
    with session_scope(engine) as session:
        assert session.get(Customer, world.customer_id).tax_id is not None  # type: ignore[union-attr]
    report = purge(engine, PrivacySettings(), now=AT + timedelta(days=1900))
    with session_scope(engine) as session:
        assert session.get(Customer, world.customer_id).tax_id is None  # type: ignore[union-attr]
    assert report.counts["fiscal_ids_cleared"] == 1
