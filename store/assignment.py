"""Choosing a technician for a service order.

Eligible: active, not deleted, in the order's region, holding every required
skill, free during the order's scheduled window (no other live order or
visit overlaps it) and, when working hours are set, working then; with a
``calendar_check`` (``order.assign_technician`` with ``calendar: check``), also
free in Google Calendar. Among
them ``least_loaded`` takes the one with the fewest live orders and
``round_robin`` the one whose last assignment is oldest; ties go to the
longest wait, then the name, so the choice is deterministic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlmodel import Session, col, select

from store.errors import NoEligibleTechnician
from store.lifecycle import TERMINAL_STATUSES
from store.models import Appointment, ServiceOrder, Technician
from store.models.orders import ACTIVE_APPOINTMENT_STATUSES
from store.models.technicians import WEEKDAYS

Strategy = Callable[[Session, Sequence[Technician]], Technician]
_NEVER = datetime.min
CALENDAR_BUSY = "busy in Google Calendar"


@dataclass(frozen=True)
class CalendarVerdict:
    """What the technicians' Google calendars say about a window.

    ``busy``: technician id -> why (the overlapping busy interval); ``not_checked``:
    technician id -> why the calendar could not say (no calendar, no connection, Google
    unreachable); those technicians stay eligible.
    """

    busy: dict[str, str] = field(default_factory=dict)
    not_checked: dict[str, str] = field(default_factory=dict)


# asks Google about the candidates' calendars over [start, end); the last argument is the order,
# whose own visits' events (already in a calendar) do not make their technician busy
CalendarCheck = Callable[[Sequence[Technician], datetime, datetime, str], CalendarVerdict]


@dataclass(frozen=True)
class Eligibility:
    candidates: list[Technician]
    excluded: Counter[str]  # reason -> how many technicians it excluded
    notes: dict[str, str]  # technician id -> a caveat that did not exclude them


def choose_technician(session: Session, order: ServiceOrder, strategy: str,
                      calendar_check: CalendarCheck | None = None) -> tuple[Technician, Eligibility]:
    """The technician ``strategy`` picks; ``NoEligibleTechnician`` says why none qualified."""
    eligibility = eligible_technicians(session, order, calendar_check)
    if not eligibility.candidates:
        raise NoEligibleTechnician(order.id, dict(eligibility.excluded))
    return STRATEGIES[strategy](session, eligibility.candidates), eligibility


def eligible_technicians(session: Session, order: ServiceOrder,
                         calendar_check: CalendarCheck | None = None) -> Eligibility:
    excluded: Counter[str] = Counter()
    in_region = session.exec(
        select(Technician).where(Technician.region == order.region, col(Technician.deleted_at).is_(None))
    ).all()
    others = session.exec(
        select(sa.func.count()).select_from(Technician)
        .where(Technician.region != order.region, col(Technician.deleted_at).is_(None))
    ).one()
    if others:
        excluded["other region"] = others
    required = set(order.required_skills)
    candidates = []
    for technician in in_region:
        if not technician.active:
            excluded["inactive"] += 1
        elif not required <= set(technician.skills):
            excluded["missing skills"] += 1
        elif not works_during(technician, order.scheduled_start, order.scheduled_end):
            excluded["outside working hours"] += 1
        else:
            candidates.append(technician)
    busy = busy_technician_ids(session, order, [t.id for t in candidates])
    if busy:
        excluded["busy at the scheduled time"] += len(busy)
    candidates = [t for t in candidates if t.id not in busy]
    notes: dict[str, str] = {}
    if calendar_check is not None and candidates:
        candidates, notes = _free_in_calendar(order, candidates, calendar_check, excluded)
    return Eligibility(candidates, excluded, notes)


def _free_in_calendar(order: ServiceOrder, candidates: list[Technician], calendar_check: CalendarCheck,
                      excluded: Counter[str]) -> tuple[list[Technician], dict[str, str]]:
    start, end = order.scheduled_start, order.scheduled_end
    if start is None or end is None:
        return candidates, {t.id: "calendar not checked: the order has no scheduled time" for t in candidates}
    verdict = calendar_check(candidates, start, end, order.id)
    if verdict.busy:
        excluded[CALENDAR_BUSY] += len(verdict.busy)
    notes = {**verdict.not_checked, **verdict.busy}
    return [t for t in candidates if t.id not in verdict.busy], notes


def works_during(technician: Technician, start: datetime | None, end: datetime | None) -> bool:
    """Within the day's working hours in the technician's time zone; no hours set means any time."""
    if start is None or end is None or not technician.working_hours:
        return True
    zone = ZoneInfo(technician.time_zone)
    local_start, local_end = start.astimezone(zone), end.astimezone(zone)
    hours = technician.working_hours.get(WEEKDAYS[local_start.weekday()])
    if not hours or local_start.date() != local_end.date():
        return False
    return hours[0] <= local_start.strftime("%H:%M") and local_end.strftime("%H:%M") <= hours[1]


def busy_technician_ids(session: Session, order: ServiceOrder, technician_ids: list[str]) -> set[str]:
    """Technicians with another live order or visit overlapping the order's window."""
    start, end = order.scheduled_start, order.scheduled_end
    if start is None or end is None or not technician_ids:
        return set()
    orders = (
        select(ServiceOrder.technician_id)
        .where(col(ServiceOrder.technician_id).in_(technician_ids), col(ServiceOrder.id) != order.id,
               col(ServiceOrder.status).not_in(TERMINAL_STATUSES),
               col(ServiceOrder.scheduled_start) < end, col(ServiceOrder.scheduled_end) > start)
    )
    visits = (
        select(Appointment.technician_id)
        .where(col(Appointment.technician_id).in_(technician_ids), col(Appointment.order_id) != order.id,
               col(Appointment.status).in_(ACTIVE_APPOINTMENT_STATUSES),
               Appointment.starts_at < end, Appointment.ends_at > start)
    )
    return {row[0] for row in session.execute(sa.union(orders, visits))}


def open_order_counts(session: Session, technician_ids: list[str]) -> dict[str, int]:
    statement = (
        select(ServiceOrder.technician_id, sa.func.count())
        .where(col(ServiceOrder.technician_id).in_(technician_ids),
               col(ServiceOrder.status).not_in(TERMINAL_STATUSES), col(ServiceOrder.deleted_at).is_(None))
        .group_by(ServiceOrder.technician_id)
    )
    return {technician_id: count for technician_id, count in session.exec(statement)
            if technician_id is not None}


def _waited(technician: Technician) -> datetime:
    last = technician.last_assigned_at
    return _NEVER if last is None else last.replace(tzinfo=None)


def least_loaded(session: Session, candidates: Sequence[Technician]) -> Technician:
    load = open_order_counts(session, [t.id for t in candidates])
    return min(candidates, key=lambda t: (load.get(t.id, 0), _waited(t), t.name, t.id))


def round_robin(session: Session, candidates: Sequence[Technician]) -> Technician:
    return min(candidates, key=lambda t: (_waited(t), t.name, t.id))


STRATEGIES: dict[str, Strategy] = {"least_loaded": least_loaded, "round_robin": round_robin}
