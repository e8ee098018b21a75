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


def technicians_busy(clients: CalendarClients, technicians: Sequence[Technician], start: datetime,
                     end: datetime) -> CalendarVerdict:
    """Who Google shows busy over [start, end); who could not be checked, and why (they stay eligible)."""
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
    try:
        answers = busy_intervals(clients, list(readable), start, end)
    except PermanentError as exc:  # Google could not read one of them: none of the group is known
        for technician_ids in readable.values():
            verdict.not_checked.update({t: f"calendar not checked: {exc}" for t in technician_ids})
        return verdict
    for calendar_id, busy in answers.items():
        if busy:
            for technician_id in readable[calendar_id]:
                verdict.busy[technician_id] = f"busy in Google Calendar ({_when(busy[0])})"
    return verdict
