"""Google Calendar: events for appointments, free slots and conflicts of technicians' calendars.

Transport ``file`` writes each call to the outbox (the embedded default); ``google`` calls
the Calendar API as the account connected for the calendar (``auth``), within the
per-calendar rate limit (``limiter``), and keeps ``CalendarLink`` rows current (``links``).
A created event's id is derived from the idempotency key: a retried insert meets its
first attempt (409) and returns that event instead of making a second one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar
from zoneinfo import ZoneInfo

from connectors.base import ActionCall, ActionSpec, Connector, Params, PermanentError, Runtime
from connectors.calendar.bodies import event_body, parse_window
from connectors.calendar.busy import busy_intervals, technicians_busy
from connectors.calendar.clients import CalendarClients, sessions_of
from connectors.calendar.directory import TechnicianCalendar, technician_of, technicians
from connectors.calendar.ids import event_id_for
from connectors.calendar.links import appointment_exists, own_events, record_cancel, record_write
from connectors.calendar.params import (
    CancelEventParams,
    CreateEventParams,
    EventFields,
    FindConflictsParams,
    FindFreeSlotsParams,
    UpdateEventParams,
    WindowParams,
)
from connectors.calendar.report import connection_report
from connectors.calendar.settings import CalendarSettings
from connectors.calendar.slots import Interval, free_intervals, intersect, merged, slots, working_intervals
from connectors.recorded import write_to_outbox

if TYPE_CHECKING:
    from store.assignment import CalendarVerdict
    from store.models import Technician

__all__ = ["CalendarConnector", "CancelEventParams", "CreateEventParams", "UpdateEventParams"]

EVENT_OUTPUTS = ("event_id", "html_link", "etag")
Chosen = tuple[str, TechnicianCalendar | None]  # a calendar to ask about, and its technician if known


class CalendarCheckFailed(PermanentError):
    """``check`` found a broken or failing connection; ``connections`` is the whole report."""

    def __init__(self, detail: str, connections: list[dict[str, Any]]) -> None:
        super().__init__(detail, code="calendar_auth")
        self.connections = connections


class CalendarConnector(Connector):
    name = "calendar"
    settings_model = CalendarSettings
    actions: ClassVar[dict[str, ActionSpec]] = {
        "create_event": ActionSpec("create_event", CreateEventParams, "Create a calendar event",
                                   outputs=EVENT_OUTPUTS),
        "update_event": ActionSpec("update_event", UpdateEventParams, "Update a calendar event",
                                   outputs=EVENT_OUTPUTS),
        "cancel_event": ActionSpec("cancel_event", CancelEventParams, "Cancel a calendar event",
                                   outputs=("event_id", "status")),
        "find_free_slots": ActionSpec("find_free_slots", FindFreeSlotsParams,
                                      "Free slots of technicians' calendars in a window (freeBusy)",
                                      outputs=("slots", "count", "unchecked")),
        "find_conflicts": ActionSpec("find_conflicts", FindConflictsParams,
                                     "Busy intervals of calendars overlapping a window (freeBusy)",
                                     outputs=("conflicts", "count", "busy", "unchecked")),
    }

    def __init__(self, settings: CalendarSettings | None = None, runtime: Runtime | None = None) -> None:
        super().__init__(settings, runtime)
        assert isinstance(self.settings, CalendarSettings)
        self.calendar_settings: CalendarSettings = self.settings
        self.clients = CalendarClients(self.calendar_settings, self.runtime)

    def calendar_check(self, technicians: Sequence[Technician], start: datetime, end: datetime,
                       order_id: str) -> CalendarVerdict:
        """``Runtime.calendar_check`` for ``order.assign_technician`` with ``calendar: check``."""
        own = own_events(sessions_of(self.runtime), order_id) if self.settings.transport == "google" else {}
        return technicians_busy(self.clients, technicians, start, end, own)

    def check(self) -> dict[str, Any]:
        """Every connection in one line each; a broken or failing one fails the check."""
        if self.settings.transport == "file":
            return super().check()
        box = self.runtime.secrets() if self.runtime.secrets is not None else None
        rows = connection_report(self.calendar_settings, sessions_of(self.runtime), box=box)
        if not rows:
            raise PermanentError("no Google Calendar connection: run 'despacho calendar connect'",
                                 code="calendar_not_connected")
        lines = [_check_line(row) for row in rows]
        detail = "; ".join(line for line, _ in lines)
        if not all(ok for _, ok in lines):
            raise CalendarCheckFailed(detail, rows)
        return {"target": self.calendar_settings.api_url, "detail": detail, "connections": rows}

    # -- dry-run --------------------------------------------------------------------------

    def plan(self, action: str, params: Params, message: dict[str, str] | None) -> dict[str, Any]:
        """The request that would be sent; the technician's own time zone is only known at run time."""
        preview: dict[str, Any] = {"transport": self.settings.transport}
        try:
            if isinstance(params, EventFields):
                zone = self.calendar_settings.calendar_time_zone or self.runtime.timezone
                body = event_body(params, zone)
                if isinstance(params, CreateEventParams):
                    body["id"] = "<derived from the idempotency key>"
                method = "events.insert" if isinstance(params, CreateEventParams) else "events.patch"
                preview.update(method=method, calendar_id=params.calendar_id, body=body)
            elif isinstance(params, CancelEventParams):
                preview.update(method="events.delete", calendar_id=params.calendar_id,
                               event_id=params.event_id)
            elif isinstance(params, WindowParams):
                start, end = parse_window(params.start, params.end, self.runtime.timezone)
                preview.update(method="freeBusy.query", timeMin=start.isoformat(), timeMax=end.isoformat(),
                               calendars=params.calendar_ids, technicians=params.technician_ids)
        except PermanentError as exc:
            preview["problem"] = str(exc)
        return preview

    # -- the effect -----------------------------------------------------------------------

    def execute(self, call: ActionCall) -> dict[str, Any]:
        if self.settings.transport == "file":
            if call.action in ("find_free_slots", "find_conflicts"):
                raise PermanentError(f"calendar.{call.action} needs connectors.calendar.transport: google",
                                     code="not_supported")
            return write_to_outbox(self, call)
        params = call.params
        if isinstance(params, CreateEventParams):
            return self._create(params, call.idempotency_key)
        if isinstance(params, UpdateEventParams):
            return self._update(params)
        if isinstance(params, CancelEventParams):
            return self._cancel(params)
        if isinstance(params, FindFreeSlotsParams):
            return self._free_slots(params)
        assert isinstance(params, FindConflictsParams)
        return self._conflicts(params)

    def _zone(self, params: EventFields) -> str:
        if params.time_zone:
            return params.time_zone
        if self.calendar_settings.calendar_time_zone:
            return self.calendar_settings.calendar_time_zone
        technician = technician_of(sessions_of(self.runtime), params.calendar_id)
        return technician.time_zone if technician is not None else self.runtime.timezone

    def _create(self, params: CreateEventParams, key: str) -> dict[str, Any]:
        sessions = sessions_of(self.runtime)
        body = {**event_body(params, self._zone(params)), "id": event_id_for(key)}
        if params.appointment_id is not None and not appointment_exists(sessions, params.appointment_id):
            raise PermanentError(f"appointment_id: no appointment '{params.appointment_id}'",
                                 code="not_found")
        api = self.clients.api(params.calendar_id)
        self.clients.acquire(params.calendar_id)
        try:
            event = api.insert_event(params.calendar_id, body, notify=params.notify_attendees)
        except PermanentError as exc:
            if exc.code != "duplicate":
                raise
            # an earlier attempt of this step made the event: this is it, not a second one
            self.clients.acquire(params.calendar_id)
            event = api.get_event(params.calendar_id, body["id"])
        record_write(sessions, params.calendar_id, event, params.appointment_id)
        return _outputs(event)

    def _update(self, params: UpdateEventParams) -> dict[str, Any]:
        sessions = sessions_of(self.runtime)
        body = event_body(params, self._zone(params))
        api = self.clients.api(params.calendar_id)
        self.clients.acquire(params.calendar_id)
        event = api.patch_event(params.calendar_id, params.event_id, body, notify=params.notify_attendees)
        record_write(sessions, params.calendar_id, event, params.appointment_id)
        return _outputs(event)

    def _cancel(self, params: CancelEventParams) -> dict[str, Any]:
        api = self.clients.api(params.calendar_id)
        self.clients.acquire(params.calendar_id)
        status = "cancelled"
        try:
            api.delete_event(params.calendar_id, params.event_id, notify=params.notify_attendees)
        except PermanentError as exc:
            if exc.code not in ("not_found", "gone"):
                raise
            status = "already_gone"  # deleted before (by us on an earlier attempt, or in Google)
        record_cancel(sessions_of(self.runtime), params.calendar_id, params.event_id, params.appointment_id)
        return {"event_id": params.event_id, "status": status}

    # -- free/busy ------------------------------------------------------------------------

    def _calendars(self, params: WindowParams) -> tuple[list[Chosen], list[str]]:
        """(calendar id, its technician) to ask about, and the technicians that have no calendar."""
        ids = params.technician_ids
        listed = technicians(sessions_of(self.runtime), ids) if ids else []
        chosen: list[Chosen] = [(t.calendar_id, t) for t in listed if t.calendar_id]
        unchecked = [t.technician_id for t in listed if not t.calendar_id]
        chosen += [(calendar_id, None) for calendar_id in params.calendar_ids]
        return chosen, unchecked

    def _busy(self, chosen: list[Chosen], start: datetime, end: datetime) -> dict[str, list[Interval]]:
        if not chosen:
            return {}
        return busy_intervals(self.clients, [calendar_id for calendar_id, _ in chosen], start, end)

    def _free_slots(self, params: FindFreeSlotsParams) -> dict[str, Any]:
        start, end = parse_window(params.start, params.end, self.runtime.timezone)
        chosen, unchecked = self._calendars(params)
        busy = self._busy(chosen, start, end)
        length = timedelta(minutes=params.slot_minutes)
        step = timedelta(minutes=params.step_minutes or params.slot_minutes)
        found: list[dict[str, Any]] = []
        if params.together and chosen:
            free = [(start, end)]
            for calendar_id, technician in chosen:
                free = intersect(free, self._open(params, technician, busy[calendar_id], start, end))
            found = [_slot(s, None, None) for s in slots(free, start, length, step, params.max_slots)]
        else:
            for calendar_id, technician in chosen:
                free = self._open(params, technician, busy[calendar_id], start, end)
                found += [_slot(s, calendar_id, technician)
                          for s in slots(free, start, length, step, params.max_slots)]
            found = sorted(found, key=lambda slot: (slot["start"], slot["calendar_id"]))[:params.max_slots]
        return {"slots": found, "count": len(found), "unchecked": unchecked}

    def _open(self, params: FindFreeSlotsParams, technician: TechnicianCalendar | None, busy: list[Interval],
              start: datetime, end: datetime) -> list[Interval]:
        """The free intervals of a calendar, inside working hours when the action asks for them."""
        free = free_intervals(busy, start, end)
        wanted = params.working_hours
        if wanted is None:
            return free
        if wanted == "technician":
            if technician is None or not technician.working_hours:
                return free  # no hours set means any time (as in assignment)
            zone, hours = ZoneInfo(technician.time_zone), technician.working_hours
        else:
            zone = ZoneInfo(self.calendar_settings.calendar_time_zone or self.runtime.timezone)
            hours = {day: list(span) for day, span in wanted.items()}
        return intersect(free, working_intervals(hours, zone, start, end))

    def _conflicts(self, params: FindConflictsParams) -> dict[str, Any]:
        start, end = parse_window(params.start, params.end, self.runtime.timezone)
        chosen, unchecked = self._calendars(params)
        busy = self._busy(chosen, start, end)
        conflicts = [
            {"calendar_id": calendar_id, "technician_id": technician.technician_id if technician else None,
             "start": a.isoformat(), "end": b.isoformat()}
            for calendar_id, technician in chosen for a, b in merged(busy[calendar_id])]
        return {"conflicts": conflicts, "count": len(conflicts), "busy": bool(conflicts),
                "unchecked": unchecked}


def _slot(interval: Interval, calendar_id: str | None,
          technician: TechnicianCalendar | None) -> dict[str, Any]:
    return {"start": interval[0].isoformat(), "end": interval[1].isoformat(), "calendar_id": calendar_id,
            "technician_id": technician.technician_id if technician is not None else None}


def _check_line(row: dict[str, Any]) -> tuple[str, bool]:
    reached = [c["calendar_id"] for c in row["calendars"] if c["reachable"]]
    failed = [c["calendar_id"] for c in row["calendars"] if c["reachable"] is False]
    problem = row["broken_reason"] if row["status"] == "broken" else row["error"]
    text = f"{row['account']} ({row['kind']}): {row['status']}, {len(reached)} calendar(s) reachable"
    if failed:
        text += f", unreachable: {', '.join(failed)}"
    if problem:
        text += f" ({problem})"
    return text, not problem and not failed


def _outputs(event: dict[str, Any]) -> dict[str, Any]:
    return {"event_id": event["id"], "html_link": event.get("htmlLink", ""), "etag": event.get("etag", "")}
