"""Free/busy of several calendars in as few requests as their accounts allow.

Google answers one freeBusy query for many calendars, but only for calendars the asking
account may read: calendars are grouped by the connection acting on them, one query per
group. Used by ``find_free_slots``/``find_conflicts`` and by ``order.assign_technician``
with ``calendar: check`` (through ``Runtime.calendar_check``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from connectors.base import PermanentError
from connectors.calendar.api import CalendarApi
from connectors.calendar.clients import CalendarClients
from connectors.calendar.slots import Interval, parse_busy

if TYPE_CHECKING:
    from store.assignment import CalendarVerdict
    from store.models import Technician


def busy_intervals(clients: CalendarClients, calendar_ids: Sequence[str], start: datetime,
                   end: datetime) -> dict[str, list[Interval]]:
    """Busy intervals per calendar; ``PermanentError`` names the first calendar none may read."""
    groups: dict[int, tuple[CalendarApi, list[str]]] = {}
    for calendar_id in dict.fromkeys(calendar_ids):
        api = clients.api(calendar_id)
        groups.setdefault(id(api), (api, []))[1].append(calendar_id)
    result: dict[str, list[Interval]] = {}
    for api, members in groups.values():
        for calendar_id in members:
            clients.acquire(calendar_id)
        for calendar_id, busy in api.free_busy(members, start, end).items():
            result[calendar_id] = parse_busy(busy)
    return result


def _when(interval: Interval) -> str:
    return f"{interval[0].isoformat()} to {interval[1].isoformat()}"


def listed_busy(clients: CalendarClients, calendar_id: str, start: datetime, end: datetime,
                ignore: set[str]) -> list[Interval]:
    """Busy intervals from the calendar's events themselves, leaving out ``ignore`` (freeBusy cannot)."""
    from connectors.calendar.links import event_interval

    api, busy = clients.api(calendar_id), []
    for event in api.events_between(calendar_id, start, end, acquire=clients.acquire):
        free = event.get("status") == "cancelled" or event.get("transparency") == "transparent"
        if free or event["id"] in ignore:
            continue
        interval = event_interval(event)
        if interval is not None and interval[0] < end and interval[1] > start:
            busy.append((max(interval[0], start), min(interval[1], end)))
    return busy


def technicians_busy(clients: CalendarClients, technicians: Sequence[Technician], start: datetime,
                     end: datetime, own: dict[str, set[str]] | None = None) -> CalendarVerdict:
    """Who Google shows busy over [start, end); who could not be checked, and why (they stay eligible).

    ``own``: calendar id -> events that do not count (the order's own visits): those
    calendars are read event by event instead of through freeBusy.
    """
    from store.assignment import CalendarVerdict

    verdict = CalendarVerdict()
    readable: dict[str, list[str]] = {}  # calendar id -> technician ids
    for technician in technicians:
        calendar_id = technician.google_calendar_id
        if clients.settings.transport != "google":
            verdict.not_checked[technician.id] = "calendar not checked: connectors.calendar.transport is file"
        elif not calendar_id:
            verdict.not_checked[technician.id] = ("calendar not checked: the technician has no "
                                                  "google_calendar_id")
        else:
            try:
                clients.api(calendar_id)
            except PermanentError as exc:
                verdict.not_checked[technician.id] = f"calendar not checked: {exc}"
                continue
            readable.setdefault(calendar_id, []).append(technician.id)
    if not readable:
        return verdict
    own = own or {}
    try:
        answers = busy_intervals(clients, [c for c in readable if c not in own], start, end)
        answers.update({c: listed_busy(clients, c, start, end, own[c]) for c in readable if c in own})
    except PermanentError as exc:  # Google could not read one of them: none of the group is known
        for technician_ids in readable.values():
            verdict.not_checked.update({t: f"calendar not checked: {exc}" for t in technician_ids})
        return verdict
    for calendar_id, busy in answers.items():
        if busy:
            for technician_id in readable[calendar_id]:
                verdict.busy[technician_id] = f"busy in Google Calendar ({_when(busy[0])})"
    return verdict
