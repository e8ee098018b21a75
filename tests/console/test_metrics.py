"""The dashboard's figures, checked against the same figures computed by hand from the rows."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from decimal import Decimal

import sqlalchemy as sa
from sqlmodel import Session, select

from console.metrics import Filters, available_hours, choices, dashboard, live_counters
from store.models import Appointment, Invoice, Notification, Payment, ServiceOrder, Technician


def hand_orders(orders: list[ServiceOrder], f: Filters) -> dict[str, object]:
    def inside(moment: datetime | None) -> bool:
        return moment is not None and f.start <= moment < f.end

    opened = [o for o in orders if inside(o.created_at)]
    completed = [o for o in orders if inside(o.completed_at)]
    waits = [(o.assigned_at - o.created_at).total_seconds() for o in opened if o.assigned_at]
    spans = [(o.completed_at - o.created_at).total_seconds() for o in completed if o.completed_at]
    due = [o for o in completed if o.sla_due_at]
    return {
        "opened": len(opened), "completed": len(completed),
        "cancelled": sum(1 for o in orders if inside(o.cancelled_at)),
        "assign": round(sum(waits) / len(waits) / 3600, 2) if waits else None,
        "complete": round(sum(spans) / len(spans) / 3600, 2) if spans else None,
        "sla_due": len(due),
        "sla_met": sum(1 for o in due if o.completed_at and o.sla_due_at and o.completed_at <= o.sla_due_at),
    }


def narrowed(orders: list[ServiceOrder], f: Filters) -> list[ServiceOrder]:
    return [o for o in orders
            if (not f.region or o.region == f.region)
            and (not f.technician_id or o.technician_id == f.technician_id)
            and (not f.category or (o.required_skills or [None])[0] == f.category)]


def check_against_rows(session: Session, f: Filters, at: datetime) -> None:
    orders = narrowed(list(session.exec(select(ServiceOrder))), f)
    board = dashboard(session.connection(), f, at=at, sms_segment_price=Decimal("0.0850"))
    expected = hand_orders(orders, f)
    figures = board.orders
    assert (figures.opened, figures.completed, figures.cancelled) == (
        expected["opened"], expected["completed"], expected["cancelled"])
    assert figures.mean_hours_to_assign == expected["assign"]
    assert figures.mean_hours_to_complete == expected["complete"]
    assert (figures.sla_due, figures.sla_met) == (expected["sla_due"], expected["sla_met"])

    by_id = {o.id: o for o in orders}
    invoices = [i for i in session.exec(select(Invoice)) if i.order_id in by_id]
    invoiced = sum((i.amount for i in invoices if f.start <= i.issued_at < f.end and i.status != "cancelled"),
                   Decimal("0.00"))
    invoice_ids = {i.id for i in invoices}
    received = sum((p.amount for p in session.exec(select(Payment))
                    if p.invoice_id in invoice_ids and f.start <= p.paid_at < f.end), Decimal("0.00"))
    today = at.astimezone(f.time_zone).date()
    late = [i for i in invoices if i.status in ("issued", "partially_paid") and i.due_date < today]
    assert board.money.invoiced == invoiced
    assert board.money.received == received
    assert board.money.overdue == sum((i.amount - i.amount_paid for i in late), Decimal("0.00"))
    assert board.money.overdue_invoices == len(late)

    days = Counter(o.created_at.astimezone(f.time_zone).date()
                   for o in orders if f.start <= o.created_at < f.end)
    assert {d.day: d.opened for d in board.daily if d.opened} == dict(days)
    assert len(board.daily) == len(f.days())
    assert sum(d.completed for d in board.daily) == expected["completed"]


def test_figures_of_the_last_30_days_match_the_rows(seeded: sa.Engine, at: datetime) -> None:
    with Session(seeded) as session:
        f = Filters.last_days(30, at)
        check_against_rows(session, f, at)
        board = dashboard(session.connection(), f, at=at)
        assert board.orders.opened > 100 and board.orders.completed > 50
        assert board.money.invoiced > 0 and board.money.received > 0


def test_filters_by_region_technician_and_category_narrow_every_order_figure(
        seeded: sa.Engine, at: datetime) -> None:
    with Session(seeded) as session:
        offered = choices(session.connection())
        assert offered.regions and offered.technicians and offered.categories
        busiest = session.exec(select(ServiceOrder.technician_id, sa.func.count())
                               .where(ServiceOrder.technician_id.is_not(None))  # type: ignore[union-attr]
                               .group_by(ServiceOrder.technician_id)
                               .order_by(sa.func.count().desc())).first()
        assert busiest is not None
        whole = dashboard(session.connection(), Filters.last_days(60, at), at=at)
        for narrowing in ({"region": offered.regions[0]}, {"technician_id": busiest[0]},
                          {"category": offered.categories[0]},
                          {"region": offered.regions[0], "category": offered.categories[-1]}):
            f = Filters.last_days(60, at, **narrowing)
            check_against_rows(session, f, at)
            part = dashboard(session.connection(), f, at=at)
            assert 0 < part.orders.opened < whole.orders.opened


def test_notifications_by_channel_and_status_and_the_sms_cost(seeded: sa.Engine, at: datetime) -> None:
    with Session(seeded) as session:
        f = Filters.last_days(30, at)
        rows = [n for n in session.exec(select(Notification)) if f.start <= n.created_at < f.end]
        board = dashboard(session.connection(), f, at=at, sms_segment_price=Decimal("0.0850"))
        expected = Counter((n.channel, n.status) for n in rows)
        assert {(c.channel, c.status): c.count for c in board.notifications} == dict(expected)
        sms = [n for n in rows if n.channel == "sms"]
        segments = sum(n.segments or 0 for n in sms)
        assert sms and board.sms.messages == len(sms) and board.sms.segments == segments
        assert board.sms.cost == (Decimal("0.0850") * segments).quantize(Decimal("0.01"))


def test_utilisation_is_booked_visit_hours_over_working_hours(seeded: sa.Engine, at: datetime) -> None:
    with Session(seeded) as session:
        f = Filters.last_days(14, at)
        board = dashboard(session.connection(), f, at=at)
        technicians = {t.id: t for t in session.exec(select(Technician)) if t.active}
        assert {load.technician_id for load in board.technicians} == set(technicians)
        for load in board.technicians:
            booked = sum((v.ends_at - v.starts_at).total_seconds() for v in session.exec(select(Appointment))
                         if v.technician_id == load.technician_id and f.start <= v.starts_at < f.end
                         and v.status in ("scheduled", "confirmed", "completed"))
            assert load.booked_hours == round(booked / 3600, 2)
            # 10 working hours on each of the 10 weekdays of two weeks
            assert load.available_hours == 100.0
        assert any((load.utilisation or 0) > 0 for load in board.technicians)


def test_available_hours_count_each_local_day_once() -> None:
    f = Filters.for_dates(date(2026, 11, 30), date(2026, 12, 6))  # Monday to Sunday
    assert available_hours({"mon": ["08:00", "18:00"], "sat": ["08:00", "12:30"]}, f) == 14.5
    assert available_hours({}, f) == 0


def test_an_empty_period_gives_zeros_not_errors(seeded: sa.Engine, at: datetime) -> None:
    with Session(seeded) as session:
        f = Filters.for_dates(date(2020, 1, 1), date(2020, 1, 2))
        board = dashboard(session.connection(), f, at=at)
        assert board.orders.opened == 0 and board.orders.mean_hours_to_assign is None
        assert board.orders.sla_compliance is None and board.money.invoiced == Decimal("0.00")
        assert [d.opened for d in board.daily] == [0, 0] and board.notifications == []


def test_live_counters_count_todays_movement(seeded: sa.Engine, at: datetime) -> None:
    with Session(seeded) as session:
        counters = live_counters(session.connection(), at=at)
        today = Filters.last_days(1, at)
        orders = list(session.exec(select(ServiceOrder)))
        assert counters["opened_today"] == sum(1 for o in orders if today.start <= o.created_at < today.end)
        assert counters["in_progress"] == sum(1 for o in orders if o.status == "in_progress")
        assert counters["unassigned"] == sum(1 for o in orders if o.status == "open")
        assert set(counters) >= {"completed_today", "notifications_failed_today"}


def test_a_period_must_end_after_it_starts(at: datetime) -> None:
    import pytest

    with pytest.raises(ValueError, match="ends before"):
        Filters(start=at, end=at - timedelta(days=1))
