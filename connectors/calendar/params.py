"""The calendar actions' params: every field bounded, so hostile event data is refused before Google.

Bounds follow Google's own (at most 5 reminder overrides of up to 4 weeks, colours 1–11,
event ids in base32hex of 5–1024 characters) or what a visit needs (a summary of a line,
a description of a page, 50 attendees, a window of 31 days for free/busy).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, StringConstraints, model_validator

from connectors.base import Params


def _matching(pattern: str, what: str) -> AfterValidator:
    """A format checked on the value, not written into the JSON Schema: editors see a rule's
    ``{{ template }}`` in these fields, which only matches once rendered."""
    compiled = re.compile(pattern)

    def check(value: str) -> str:
        if not compiled.match(value):
            raise ValueError(f"'{value[:80]}' is not {what}")
        return value

    return AfterValidator(check)


# a Google calendar id is an e-mail address (a user's, or ...@group.calendar.google.com); never
# "primary", which would mean "whichever account acts" rather than a calendar despacho knows
CalendarId = Annotated[str, StringConstraints(max_length=255), _matching(
    r"^[A-Za-z0-9._%+#-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}$", "a calendar id (an e-mail address, not 'primary')")]
EventId = Annotated[str, StringConstraints(max_length=1024), _matching(
    r"^[a-v0-9]{5,1024}$", "a Google event id (5 to 1024 of a-v and 0-9)")]
Time = Annotated[str, StringConstraints(max_length=40)]
Id = Annotated[str, StringConstraints(min_length=1, max_length=36)]
Minutes = Annotated[int, Field(ge=0, le=40320)]  # Google: at most 4 weeks before
HHMM = Annotated[str, _matching(r"^([01]\d|2[0-3]):[0-5]\d$", "a time HH:MM")]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
MAX_CALENDARS = 50


class Reminders(Params):
    """Reminder overrides (Google allows 5 in all); none given: the calendar's defaults."""

    popup: list[Minutes] = Field(default_factory=list, max_length=5, description="Minutes before, on screen")
    email: list[Minutes] = Field(default_factory=list, max_length=5, description="Minutes before, by e-mail")

    @model_validator(mode="after")
    def _at_most_five(self) -> Reminders:
        if len(self.popup) + len(self.email) > 5:
            raise ValueError("Google allows at most 5 reminders in all (popup + email)")
        return self


class EventFields(Params):
    """What create and update share; on update only the fields given change."""

    calendar_id: CalendarId = Field(description="Google calendar id: a technician's google_calendar_id "
                                                "or a calendar listed in a calendar connection")
    summary: str | None = Field(None, max_length=1024)
    start: Time | None = Field(None, description="ISO 8601; without an offset it is read in time_zone")
    end: Time | None = Field(None, description="ISO 8601; without an offset it is read in time_zone")
    time_zone: str | None = Field(None, max_length=64, description="IANA zone of the event; default: "
                                  "calendar_time_zone, else the technician's, else the configured one")
    description: str | None = Field(None, max_length=8192)
    location: str | None = Field(None, max_length=1024)
    attendees: list[Annotated[str, StringConstraints(max_length=254)] | None] | None = Field(
        None, max_length=50, description="E-mail addresses (empty or null ones are dropped): the technician, "
                                         "the customer if they should get Google's invitation")
    reminders: Reminders | None = None
    color_id: int | None = Field(None, ge=1, le=11, description="Google's event colour, 1-11")
    appointment_id: Id | None = Field(None, description="Links the Google event to the appointment "
                                                        "(extendedProperties.private.despacho_appointment_id)")
    notify_attendees: bool = Field(False, description="Let Google e-mail the attendees about the change")


class CreateEventParams(EventFields):
    summary: str = Field(min_length=1, max_length=1024)
    start: Time = Field(description="ISO 8601; without an offset it is read in time_zone")
    end: Time = Field(description="ISO 8601; without an offset it is read in time_zone")
    attendees: list[Annotated[str, StringConstraints(max_length=254)] | None] = Field(
        default_factory=list, max_length=50,
        description="E-mail addresses (empty or null ones are dropped): the technician, the customer if they "
                    "should get Google's invitation")


class UpdateEventParams(EventFields):
    event_id: EventId


class CancelEventParams(Params):
    calendar_id: CalendarId
    event_id: EventId
    notify_attendees: bool = True
    appointment_id: Id | None = None


class WindowParams(Params):
    """Calendars by technician or by id, and a window of at most 31 days."""

    technician_ids: list[Id] = Field(default_factory=list, max_length=MAX_CALENDARS)
    calendar_ids: list[CalendarId] = Field(default_factory=list, max_length=MAX_CALENDARS)
    start: Time = Field(description="ISO 8601 with offset")
    end: Time = Field(description="ISO 8601 with offset")

    @model_validator(mode="after")
    def _some_calendar(self) -> WindowParams:
        if not self.technician_ids and not self.calendar_ids:
            raise ValueError("give technician_ids or calendar_ids")
        if len(self.technician_ids) + len(self.calendar_ids) > MAX_CALENDARS:
            raise ValueError(f"at most {MAX_CALENDARS} calendars in one query")
        return self


class FindFreeSlotsParams(WindowParams):
    slot_minutes: int = Field(60, ge=5, le=1440, description="Length of each free slot")
    step_minutes: int | None = Field(None, ge=5, le=1440, description="Between slot starts; default: "
                                                                      "slot_minutes")
    working_hours: dict[Weekday, Annotated[list[HHMM], Field(min_length=2, max_length=2)]] | Literal[
        "technician"] | None = Field(None, description="Only inside these hours ({mon: [\"08:00\", "
                                     "\"18:00\"], ...}; a missing day is off), or 'technician' for each "
                                     "technician's own working hours")
    together: bool = Field(False, description="true: slots when every calendar is free at once")
    max_slots: int = Field(50, ge=1, le=500)


class FindConflictsParams(WindowParams):
    pass
