"""Applying one change Google reports (an item of a list/sync page) to its appointment.

The link (``CalendarLink``) remembers the version both sides last agreed on.
For each item:

- not despacho's event (no link, no ``despacho_appointment_id`` we can trust) → ``not_ours``;
- its ``etag`` is the link's, or its ``updated`` is not newer than the link's ``google_updated``
  → ``echo``: despacho's own write coming back, or an item already applied (a sync that
  restarts mid-way reads its first pages again) — nothing happens;
- Google's start/end/status equal the agreed version (a new title, say) → ``unchanged``;
- Google changed it and despacho did not → ``applied``: the appointment moves or is
  cancelled, with ``appointment.rescheduled`` / ``appointment.cancelled`` (source ``google``);
- both changed, differently → ``conflict``: ``settings.conflict_policy`` picks the winner and a
  ``CalendarConflict`` row keeps both versions. When despacho wins, the outcome carries a
  ``WriteBack`` the caller sends to Google in the same unit of work (``sync.sync_calendar``),
  then records with ``remember_write``.

Everything happens in the caller's session: the caller commits a page of items together with
its progress. Loaded only by sync and the webhook, never by ``despacho validate``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, col, select

from connectors.calendar.bodies import APPOINTMENT_PROPERTY
from connectors.calendar.settings import CalendarSettings
from connectors.calendar.versions import (
    CANCELLED,
    EventRejected,
    Version,
    appointment_version,
    bounded,
    event_version,
    moment,
    optional_moment,
    same_visit,
)
from store import appointments
from store.models import Appointment, CalendarConflict, CalendarLink, Customer, ServiceOrder, Technician
from store.models.orders import ACTIVE_APPOINTMENT_STATUSES
from store.types import utcnow

log = logging.getLogger("despacho.calendar.changes")

SOURCE = "google"
MAX_EVENT_ID = 1024
MAX_ETAG = 255


class Kind(StrEnum):
    NOT_OURS = "not_ours"
    ECHO = "echo"
    UNCHANGED = "unchanged"
    APPLIED = "applied"
    CONFLICT = "conflict"
    SKIPPED = "skipped"  # a visit that is history, or an item that cannot be a visit
    REJECTED = "rejected"


@dataclass(frozen=True)
class WriteBack:
    """Despacho won a conflict: Google must return to ``version``."""

    link_id: str
    calendar_id: str
    event_id: str
    version: Version
    etag: str | None  # Google's version we overrule: a write made only if it is still that one


@dataclass(frozen=True)
class Outcome:
    kind: Kind
    appointment_id: str | None = None
    winner: str | None = None
    write_back: WriteBack | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Prefetched:
    """A page's links (by event id), loaded with their visits, orders, customers and technicians."""

    links: dict[str, CalendarLink]
    # the session's identity map holds records weakly: these references keep them there
    records: list[Any]


def apply_page(session: Session, settings: CalendarSettings, calendar_id: str, items: list[Any],
               *, now: datetime | None = None) -> list[Outcome]:
    """``apply_change`` for every item of a list page, with a handful of queries for the whole page.

    Echoes (most items of a full sync) are told from one query of the page's links; the rest
    are applied with their records loaded (and, on PostgreSQL, their visits locked) at once.
    """
    now = now or utcnow()
    seen = _seen_versions(session, calendar_id, items)
    outcomes: list[Outcome] = []
    changed: list[dict[str, Any]] = []
    for item in items:
        body = item if isinstance(item, dict) else {}
        event_id = body.get("id")
        known = seen.get(event_id) if isinstance(event_id, str) else None
        if known is not None and _quick_echo(known, body):
            outcomes.append(Outcome(Kind.ECHO, known[0]))
        else:
            changed.append(body)
    if changed:
        prefetched = _prefetch(session, calendar_id, changed)
        outcomes += [apply_change(session, settings, calendar_id, body, now=now, prefetched=prefetched)
                     for body in changed]
    return outcomes


def _seen_versions(session: Session, calendar_id: str,
                   items: list[Any]) -> dict[str, tuple[str, str | None, datetime | None]]:
    """event id → (appointment id, etag, google_updated) of the page's links, as plain rows."""
    ids = [item["id"] for item in items
           if isinstance(item, dict) and isinstance(item.get("id"), str) and len(item["id"]) <= MAX_EVENT_ID]
    if not ids:
        return {}
    table = CalendarLink.__table__.c
    rows = session.execute(sa.select(table.google_event_id, table.appointment_id, table.etag,
                                     table.google_updated)
                           .where(table.calendar_id == calendar_id, table.google_event_id.in_(ids)))
    return {row[0]: (row[1], row[2], row[3]) for row in rows}


def _quick_echo(known: tuple[str, str | None, datetime | None], item: dict[str, Any]) -> bool:
    _, etag, google_updated = known
    if etag is not None and item.get("etag") == etag:
        return True
    try:
        updated = optional_moment(item.get("updated"), "updated")
    except EventRejected:
        return False  # apply_change rejects it, naming the field
    return updated is not None and google_updated is not None and updated <= google_updated


def _prefetch(session: Session, calendar_id: str, items: list[dict[str, Any]]) -> Prefetched:
    ids = [item["id"] for item in items
           if isinstance(item.get("id"), str) and len(item["id"]) <= MAX_EVENT_ID]
    links = list(session.exec(select(CalendarLink).where(CalendarLink.calendar_id == calendar_id,
                                                         col(CalendarLink.google_event_id).in_(ids))))
    visit_ids = [link.appointment_id for link in links]
    # FOR UPDATE on PostgreSQL: a rule changing the same visits waits for this page's commit
    visits = list(session.exec(select(Appointment).where(col(Appointment.id).in_(visit_ids))
                               .with_for_update()))
    orders = list(session.exec(select(ServiceOrder).where(
        col(ServiceOrder.id).in_({visit.order_id for visit in visits}))))
    customers = session.exec(select(Customer).where(
        col(Customer.id).in_({order.customer_id for order in orders}))).all()
    technicians = session.exec(select(Technician).where(col(Technician.id).in_(
        {visit.technician_id for visit in visits if visit.technician_id}))).all()
    return Prefetched({link.google_event_id: link for link in links},
                      [*visits, *orders, *customers, *technicians])


def apply_change(session: Session, settings: CalendarSettings, calendar_id: str, item: dict[str, Any],
                 *, now: datetime | None = None, prefetched: Prefetched | None = None) -> Outcome:
    """Apply one Calendar v3 event resource of ``calendar_id``; see the module's docstring.

    ``prefetched``: ``apply_page`` loaded the records already (they are in the session).
    """
    now = now or utcnow()
    try:
        event_id = bounded(item, "id", MAX_EVENT_ID, required=True)
        etag = bounded(item, "etag", MAX_ETAG)
        updated = optional_moment(item.get("updated"), "updated")
    except EventRejected as exc:
        return _rejected(calendar_id, item, exc)
    assert event_id is not None
    found = (prefetched.links.get(event_id) if prefetched is not None
             else _find_link(session, calendar_id, event_id))
    link = found or _adopt(session, calendar_id, event_id, _appointment_property(item))
    if link is None:
        return Outcome(Kind.NOT_OURS)
    if _is_echo(link, etag, updated):
        return Outcome(Kind.ECHO, link.appointment_id)
    appointment = _appointment(session, link.appointment_id,
                               locked=prefetched is not None and found is not None)
    try:
        theirs = event_version(item, fallback=link.synced_version)
    except EventRejected as exc:
        _seen(link, etag, updated, now)
        return _rejected(calendar_id, item, exc, appointment.id)
    return _reconcile(session, settings, link, appointment, theirs, etag, updated, now)


def _reconcile(session: Session, settings: CalendarSettings, link: CalendarLink, appointment: Appointment,
               theirs: Version, etag: str | None, updated: datetime | None, now: datetime) -> Outcome:
    ours = appointment_version(appointment)
    base = link.synced_version or ours  # never agreed: count only Google's side as a change
    _seen(link, etag, updated, now)
    if same_visit(theirs, base):
        return Outcome(Kind.UNCHANGED, appointment.id)
    if same_visit(ours, theirs):  # both sides made the same change
        link.synced_version = theirs
        return Outcome(Kind.UNCHANGED, appointment.id)
    if same_visit(ours, base):
        return _take_theirs(session, link, appointment, theirs, now, Kind.APPLIED)
    winner = _winner(settings, updated, appointment)
    session.add(CalendarConflict(appointment_id=appointment.id, calendar_id=link.calendar_id,
                                 google_event_id=link.google_event_id, ours=ours, theirs=theirs,
                                 policy=settings.conflict_policy, winner=winner, detected_at=now))
    log.info("calendar conflict on appointment %s (event %s): %s wins by %s", appointment.id,
             link.google_event_id, winner, settings.conflict_policy)
    if winner == SOURCE:
        return _take_theirs(session, link, appointment, theirs, now, Kind.CONFLICT, winner=winner)
    write_back = WriteBack(link.id, link.calendar_id, link.google_event_id, ours, etag)
    return Outcome(Kind.CONFLICT, appointment.id, winner="despacho", write_back=write_back)


def _winner(settings: CalendarSettings, updated: datetime | None, appointment: Appointment) -> str:
    policy = settings.conflict_policy
    if policy == "google_wins":
        return SOURCE
    if policy == "newest_wins" and updated is not None and updated > appointment.updated_at:
        return SOURCE
    return "despacho"


def _take_theirs(session: Session, link: CalendarLink, appointment: Appointment, theirs: Version,
                 now: datetime, kind: Kind, winner: str | None = None) -> Outcome:
    if appointment.status not in ACTIVE_APPOINTMENT_STATUSES:
        # a completed, missed or cancelled visit is history: Google cannot bring it back or move it
        return Outcome(Kind.SKIPPED, appointment.id, winner=winner,
                       reason=f"the appointment is {appointment.status}; Google's change is not applied")
    if theirs["status"] == CANCELLED:
        appointments.cancel(session, appointment, changed_by=SOURCE, source=SOURCE, at=now)
    else:
        starts_at, ends_at = moment(theirs["start"], "start"), moment(theirs["end"], "end")
        appointments.reschedule(session, appointment, starts_at, ends_at, changed_by=SOURCE, source=SOURCE,
                                at=now)
    link.synced_version = theirs
    return Outcome(kind, appointment.id, winner=winner)


def remember_write(session: Session, write_back: WriteBack, item: dict[str, Any] | None,
                   *, now: datetime | None = None) -> None:
    """Google answered a write back with ``item`` (``None``: a delete): both sides agree again."""
    link = session.get(CalendarLink, write_back.link_id)
    if link is None:
        return
    if item is not None:
        link.etag = bounded(item, "etag", MAX_ETAG)
        link.google_updated = optional_moment(item.get("updated"), "updated") or link.google_updated
    link.synced_version = write_back.version
    link.synced_at = now or utcnow()


def _seen(link: CalendarLink, etag: str | None, updated: datetime | None, now: datetime) -> None:
    link.etag = etag or link.etag
    link.google_updated = updated or link.google_updated
    link.synced_at = now


def _is_echo(link: CalendarLink, etag: str | None, updated: datetime | None) -> bool:
    if etag is not None and etag == link.etag:
        return True
    # Google's ``updated`` only grows: an item not newer than the last one seen is old news
    return updated is not None and link.google_updated is not None and updated <= link.google_updated


def _find_link(session: Session, calendar_id: str, event_id: str) -> CalendarLink | None:
    # a link despacho cancelled (``deleted_at``) still counts: its cancellation coming back is an echo
    return session.exec(select(CalendarLink).where(
        CalendarLink.calendar_id == calendar_id, CalendarLink.google_event_id == event_id)).first()


def _appointment_property(item: dict[str, Any]) -> str | None:
    properties = item.get("extendedProperties")
    private = properties.get("private") if isinstance(properties, dict) else None
    value = private.get(APPOINTMENT_PROPERTY) if isinstance(private, dict) else None
    return value if isinstance(value, str) and 0 < len(value) <= 36 else None


def _adopt(session: Session, calendar_id: str, event_id: str,
           appointment_id: str | None) -> CalendarLink | None:
    """An event naming an appointment but without a link (a lost write's answer): link it, if it may.

    Anyone who can edit the calendar can write the private property, so it is trusted only
    for a visit with no event yet, of the technician whose calendar this is.
    """
    if appointment_id is None:
        return None
    appointment = session.get(Appointment, appointment_id)
    if appointment is None or appointment.technician_id is None:
        return None
    technician = session.get(Technician, appointment.technician_id)
    if technician is None or technician.google_calendar_id != calendar_id:
        log.warning("calendar event %s on %s names appointment %s of another calendar: ignored",
                    event_id[:80], calendar_id, appointment_id)
        return None
    taken = session.exec(select(CalendarLink).where(CalendarLink.appointment_id == appointment_id)).first()
    if taken is not None:
        log.warning("calendar event %s on %s names appointment %s, linked to event %s: ignored",
                    event_id[:80], calendar_id, appointment_id, taken.google_event_id[:80])
        return None
    link = CalendarLink(appointment_id=appointment_id, calendar_id=calendar_id, google_event_id=event_id)
    session.add(link)
    return link


def _appointment(session: Session, appointment_id: str, *, locked: bool) -> Appointment:
    """The link's visit; ``locked``: loaded (and locked) by ``_prefetch`` already, no query."""
    if locked:
        visit = session.get(Appointment, appointment_id)
        if visit is not None:
            return visit
    # FOR UPDATE on PostgreSQL: a rule changing the same visit waits for this page's commit
    return session.exec(select(Appointment).where(Appointment.id == appointment_id).with_for_update()).one()


def _rejected(calendar_id: str, item: dict[str, Any], exc: EventRejected,
              appointment_id: str | None = None) -> Outcome:
    event_id = item.get("id")
    where = f"calendar {calendar_id[:255]} event {str(event_id)[:80]!r}"
    reason = f"{where}: {exc}"
    log.warning("calendar change not applied: %s", reason)
    return Outcome(Kind.REJECTED, appointment_id, reason=reason)
