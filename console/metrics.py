"""The dashboard's figures: plain data from a handful of aggregate queries.

Each section is one or two ``SELECT ... GROUP BY`` statements that the
database answers from its indexes; no rows are loaded into Python, so the
dashboard over a million orders costs what the hand-written SQL costs
(``bench/bench_dashboard.py`` measures the ratio). Templates and exports
format the numbers; nothing here knows about HTML.

Definitions (the console's help tooltips repeat them):

- *opened*: orders created in the period; *completed*: orders completed in it.
- *time to assign*: mean of ``assigned_at - created_at`` over the orders opened
  in the period that got a technician; *time to complete*: mean of
  ``completed_at - created_at`` over the orders completed in the period.
- *SLA compliance*: of the orders completed in the period that had a deadline,
  the share completed by ``sla_due_at``.
- *utilisation*: hours of the technician's visits (scheduled, confirmed or
  completed) starting in the period over the working hours of the period.
- *invoiced*: invoices issued in the period (cancelled ones left out);
  *received*: payments made in it; *overdue*: what is still owed on unpaid
  invoices due before ``at``, whatever the period.
- *notifications*: messages created in the period by channel and status; SMS
  segments times ``sms_segment_price`` is their cost.
- *category*: the service an order asks for, its first required skill.

The filters region, technician and category narrow orders, visits, invoices
and payments (through their order). Notifications are not linked to an order,
so only the period applies to them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from store.models import Appointment, Invoice, Notification, Payment, ServiceOrder, Technician
from store.models.billing import UNPAID_INVOICE_STATUSES
from store.models.technicians import WEEKDAYS

LOCAL = ZoneInfo("America/Sao_Paulo")
BOOKED_VISIT_STATUSES = ("scheduled", "confirmed", "completed")
ZERO = Decimal("0.00")

orders_t = ServiceOrder.__table__
visits_t = Appointment.__table__
technicians_t = Technician.__table__
invoices_t = Invoice.__table__
payments_t = Payment.__table__
notifications_t = Notification.__table__


@dataclass(frozen=True)
class Filters:
    """The period ``[start, end)`` and the optional narrowing the dashboard's form offers."""

    start: datetime
    end: datetime
    region: str | None = None
    technician_id: str | None = None
    category: str | None = None
    time_zone: ZoneInfo = LOCAL

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("the period needs time-zone-aware bounds")
        if self.end <= self.start:
            raise ValueError("the period ends before it starts")

    @classmethod
    def last_days(cls, days: int, at: datetime, **narrowing: Any) -> Filters:
        """The ``days`` local days up to and including the day of ``at``."""
        zone = narrowing.get("time_zone", LOCAL)
        today = at.astimezone(zone).date()
        return cls.for_dates(today - timedelta(days=days - 1), today, **narrowing)

    @classmethod
    def for_dates(cls, first: date, last: date, **narrowing: Any) -> Filters:
        """From the start of local day ``first`` to the end of local day ``last``."""
        zone = narrowing.get("time_zone", LOCAL)
        start = datetime.combine(first, datetime.min.time(), zone)
        end = datetime.combine(last + timedelta(days=1), datetime.min.time(), zone)
        return cls(start=start, end=end, **narrowing)

    def days(self) -> list[date]:
        first = self.start.astimezone(self.time_zone).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(self.time_zone).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]


@dataclass(frozen=True)
class OrderFigures:
    opened: int
    completed: int
    cancelled: int
    mean_hours_to_assign: float | None
    mean_hours_to_complete: float | None
    sla_due: int  # completed orders that had a deadline
    sla_met: int

    @property
    def sla_compliance(self) -> float | None:
        return self.sla_met / self.sla_due if self.sla_due else None


@dataclass(frozen=True)
class DayCount:
    day: date
    opened: int
    completed: int


@dataclass(frozen=True)
class TechnicianLoad:
    technician_id: str
    name: str
    region: str
    booked_hours: float
    available_hours: float
    completed: int

    @property
    def utilisation(self) -> float | None:
        return self.booked_hours / self.available_hours if self.available_hours else None


@dataclass(frozen=True)
class MoneyFigures:
    invoiced: Decimal
    received: Decimal
    overdue: Decimal
    overdue_invoices: int


@dataclass(frozen=True)
class NotificationCount:
    channel: str
    status: str
    count: int
    segments: int


@dataclass(frozen=True)
class SmsFigures:
    messages: int
    segments: int
    cost: Decimal


@dataclass(frozen=True)
class Dashboard:
    filters: Filters
    at: datetime
    orders: OrderFigures
    daily: list[DayCount]
    technicians: list[TechnicianLoad]
    money: MoneyFigures
    notifications: list[NotificationCount]
    sms: SmsFigures


@dataclass(frozen=True)
class Choices:
    """What the filter form offers."""

    regions: list[str]
    technicians: list[tuple[str, str]]  # (id, name)
    categories: list[str] = field(default_factory=list)


def dashboard(connection: sa.Connection, filters: Filters, *, at: datetime,
              sms_segment_price: Decimal = ZERO) -> Dashboard:
    """Every figure of the dashboard for ``filters``; ``at`` is "now" for what is overdue."""
    notifications = notification_counts(connection, filters)
    return Dashboard(
        filters=filters, at=at, orders=order_figures(connection, filters),
        daily=daily_counts(connection, filters), technicians=technician_loads(connection, filters),
        money=money_figures(connection, filters, at=at), notifications=notifications,
        sms=sms_figures(notifications, sms_segment_price),
    )


def order_figures(connection: sa.Connection, filters: Filters) -> OrderFigures:
    dialect = connection.dialect.name
    o = orders_t.c
    opened = connection.execute(
        sa.select(sa.func.count(),
                  sa.func.avg(_seconds_between(dialect, o.created_at, o.assigned_at)))
        .where(o.created_at >= filters.start, o.created_at < filters.end, *_order_filters(filters))
    ).one()
    met = sa.case((o.completed_at <= o.sla_due_at, 1), else_=0)
    completed = connection.execute(
        sa.select(sa.func.count(), sa.func.avg(_seconds_between(dialect, o.created_at, o.completed_at)),
                  sa.func.count(o.sla_due_at), sa.func.coalesce(sa.func.sum(met), 0))
        .where(o.completed_at >= filters.start, o.completed_at < filters.end, *_order_filters(filters))
    ).one()
    cancelled = connection.execute(
        sa.select(sa.func.count())
        .where(o.cancelled_at >= filters.start, o.cancelled_at < filters.end, *_order_filters(filters))
    ).scalar_one()
    return OrderFigures(
        opened=int(opened[0]), completed=int(completed[0]), cancelled=int(cancelled),
        mean_hours_to_assign=_hours(opened[1]), mean_hours_to_complete=_hours(completed[1]),
        sla_due=int(completed[2]), sla_met=int(completed[3]),
    )


def daily_counts(connection: sa.Connection, filters: Filters) -> list[DayCount]:
    """Orders opened and completed per local day of the period, every day listed."""
    o = orders_t.c
    counts: dict[date, list[int]] = {day: [0, 0] for day in filters.days()}
    for index, column in enumerate((o.created_at, o.completed_at)):
        day = _local_day(connection.dialect.name, column, filters)
        rows = connection.execute(
            sa.select(day, sa.func.count())
            .where(column >= filters.start, column < filters.end, *_order_filters(filters))
            .group_by(day)
        )
        for value, count in rows:
            counts.setdefault(_as_date(value), [0, 0])[index] = int(count)
    return [DayCount(day, opened, completed) for day, (opened, completed) in sorted(counts.items())]


def technician_loads(connection: sa.Connection, filters: Filters) -> list[TechnicianLoad]:
    """Active technicians (narrowed by region and technician), busiest first."""
    t, v, o = technicians_t.c, visits_t.c, orders_t.c
    people = sa.select(t.id, t.name, t.region, t.working_hours).where(
        t.active.is_(True), t.deleted_at.is_(None))
    if filters.region:
        people = people.where(t.region == filters.region)
    if filters.technician_id:
        people = people.where(t.id == filters.technician_id)
    booked_query = (
        sa.select(v.technician_id, sa.func.sum(_seconds_between(connection.dialect.name,
                                                                v.starts_at, v.ends_at)))
        .where(v.starts_at >= filters.start, v.starts_at < filters.end,
               v.status.in_(BOOKED_VISIT_STATUSES), v.technician_id.is_not(None))
        .group_by(v.technician_id)
    )
    if filters.category:
        booked_query = booked_query.join(orders_t, o.id == v.order_id).where(_category(o) == filters.category)
    booked = {row[0]: float(row[1] or 0) for row in connection.execute(booked_query)}
    done: dict[str, int] = {row[0]: int(row[1]) for row in connection.execute(
        sa.select(o.technician_id, sa.func.count())
        .where(o.completed_at >= filters.start, o.completed_at < filters.end,
               o.technician_id.is_not(None), *_order_filters(filters, technician=False))
        .group_by(o.technician_id)
    )}
    loads = [
        TechnicianLoad(technician_id=row.id, name=row.name, region=row.region,
                       booked_hours=round(booked.get(row.id, 0.0) / 3600, 2),
                       available_hours=available_hours(row.working_hours or {}, filters),
                       completed=int(done.get(row.id, 0)))
        for row in connection.execute(people)
    ]
    return sorted(loads, key=lambda load: (-(load.utilisation or 0), load.name))


def available_hours(working_hours: dict[str, list[str]], filters: Filters) -> float:
    """Working hours of the period's local days, from the technician's weekly hours."""
    per_weekday = [_span_hours(working_hours.get(day)) for day in WEEKDAYS]
    return round(sum(per_weekday[day.weekday()] for day in filters.days()), 2)


def money_figures(connection: sa.Connection, filters: Filters, *, at: datetime) -> MoneyFigures:
    i, p, o = invoices_t.c, payments_t.c, orders_t.c
    narrowed = bool(_order_filters(filters))
    invoiced_query = (sa.select(sa.func.coalesce(sa.func.sum(i.amount), 0))
                      .where(i.issued_at >= filters.start, i.issued_at < filters.end,
                             i.status != "cancelled", i.deleted_at.is_(None)))
    received_query = (sa.select(sa.func.coalesce(sa.func.sum(p.amount), 0))
                      .where(p.paid_at >= filters.start, p.paid_at < filters.end))
    overdue_query = (sa.select(sa.func.coalesce(sa.func.sum(i.amount - i.amount_paid), 0), sa.func.count())
                     .where(i.status.in_(UNPAID_INVOICE_STATUSES), i.due_date < at.astimezone(
                         filters.time_zone).date(), i.deleted_at.is_(None)))
    if narrowed:
        invoiced_query = invoiced_query.join(orders_t, o.id == i.order_id).where(*_order_filters(filters))
        overdue_query = overdue_query.join(orders_t, o.id == i.order_id).where(*_order_filters(filters))
        received_query = (received_query.join(invoices_t, i.id == p.invoice_id)
                          .join(orders_t, o.id == i.order_id).where(*_order_filters(filters)))
    overdue = connection.execute(overdue_query).one()
    return MoneyFigures(
        invoiced=_money(connection.execute(invoiced_query).scalar_one()),
        received=_money(connection.execute(received_query).scalar_one()),
        overdue=_money(overdue[0]), overdue_invoices=int(overdue[1]),
    )


def notification_counts(connection: sa.Connection, filters: Filters) -> list[NotificationCount]:
    n = notifications_t.c
    rows = connection.execute(
        sa.select(n.channel, n.status, sa.func.count(), sa.func.coalesce(sa.func.sum(n.segments), 0))
        .where(n.created_at >= filters.start, n.created_at < filters.end, n.deleted_at.is_(None))
        .group_by(n.channel, n.status).order_by(n.channel, n.status)
    )
    return [NotificationCount(channel, status, int(count), int(segments))
            for channel, status, count, segments in rows]


def sms_figures(counts: Sequence[NotificationCount], segment_price: Decimal) -> SmsFigures:
    sms = [count for count in counts if count.channel == "sms"]
    segments = sum(count.segments for count in sms)
    return SmsFigures(messages=sum(count.count for count in sms), segments=segments,
                      cost=(segment_price * segments).quantize(Decimal("0.01")))


def live_counters(connection: sa.Connection, *, at: datetime, time_zone: ZoneInfo = LOCAL) -> dict[str, int]:
    """Today's (local day of ``at``) movement and the current backlog, for the server-sent events."""
    today = Filters.last_days(1, at, time_zone=time_zone)
    o, n = orders_t.c, notifications_t.c

    def count(*where: sa.ColumnElement[bool]) -> int:
        return int(connection.execute(sa.select(sa.func.count()).where(*where)).scalar_one())

    return {
        "opened_today": count(o.created_at >= today.start, o.created_at < today.end, o.deleted_at.is_(None)),
        "completed_today": count(o.completed_at >= today.start, o.completed_at < today.end,
                                 o.deleted_at.is_(None)),
        "in_progress": count(o.status == "in_progress", o.deleted_at.is_(None)),
        "unassigned": count(o.technician_id.is_(None), o.status == "open", o.deleted_at.is_(None)),
        "notifications_failed_today": count(n.created_at >= today.start, n.created_at < today.end,
                                            n.status.in_(("failed", "undelivered"))),
    }


def choices(connection: sa.Connection) -> Choices:
    t, o = technicians_t.c, orders_t.c
    regions = connection.execute(sa.select(t.region).where(t.deleted_at.is_(None)).distinct()
                                 .order_by(t.region)).scalars().all()
    people = connection.execute(sa.select(t.id, t.name).where(t.deleted_at.is_(None))
                                .order_by(t.name)).all()
    # the distinct categories of recent orders: a full scan of a million JSON lists is not worth it
    recent = sa.select(_category(o).label("category")).order_by(o.created_at.desc()).limit(5000).subquery()
    categories = connection.execute(sa.select(recent.c.category).where(recent.c.category.is_not(None))
                                    .distinct().order_by(recent.c.category)).scalars().all()
    return Choices(regions=list(regions), technicians=[(row[0], row[1]) for row in people],
                   categories=[str(c) for c in categories])


def _order_filters(filters: Filters, *, technician: bool = True) -> list[sa.ColumnElement[bool]]:
    o = orders_t.c
    where: list[sa.ColumnElement[bool]] = []
    if filters.region:
        where.append(o.region == filters.region)
    if filters.technician_id and technician:
        where.append(o.technician_id == filters.technician_id)
    if filters.category:
        where.append(_category(o) == filters.category)
    return where


def _category(o: Any) -> sa.ColumnElement[Any]:
    """The first required skill, as text, on both databases."""
    category: sa.ColumnElement[Any] = o.required_skills[0].as_string()
    return category


def _seconds_between(dialect: str, earlier: Any, later: Any) -> sa.ColumnElement[Any]:
    if dialect == "postgresql":
        return sa.extract("epoch", later - earlier)
    return (sa.func.julianday(later) - sa.func.julianday(earlier)) * 86400.0


def _local_day(dialect: str, column: Any, filters: Filters) -> sa.ColumnElement[Any]:
    if dialect == "postgresql":
        return sa.func.date(sa.func.timezone(filters.time_zone.key, column))
    # SQLite knows no time zones: the offset at the start of the period (Brazil has no DST since 2019)
    offset = filters.start.astimezone(filters.time_zone).utcoffset() or timedelta(0)
    return sa.func.date(column, f"{int(offset.total_seconds()):+d} seconds")


def _as_date(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _span_hours(hours: list[str] | None) -> float:
    if not hours:
        return 0.0
    (h1, m1), (h2, m2) = (map(int, hour.split(":")) for hour in hours)
    return ((h2 * 60 + m2) - (h1 * 60 + m1)) / 60


def _hours(seconds: Any) -> float | None:
    return None if seconds is None else round(float(seconds) / 3600, 2)


def _money(value: Any) -> Decimal:
    return Decimal(str(value or 0)).quantize(Decimal("0.01"))

