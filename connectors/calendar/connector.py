"""Google Calendar: events for appointments."""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from connectors.base import ActionCall, ActionSpec, Connector, Params
from connectors.calendar.settings import CalendarSettings
from connectors.recorded import write_to_outbox


class CreateEventParams(Params):
    calendar_id: str = Field(description="Google calendar id (usually the technician's)")
    summary: str
    start: str = Field(description="ISO 8601 start time")
    end: str = Field(description="ISO 8601 end time")
    description: str | None = None
    location: str | None = None
    attendees: list[str] = Field(default_factory=list)
    appointment_id: str | None = Field(None, description="Links the Google event to the appointment")


class UpdateEventParams(Params):
    calendar_id: str
    event_id: str
    summary: str | None = None
    start: str | None = None
    end: str | None = None
    description: str | None = None
    location: str | None = None


class CancelEventParams(Params):
    calendar_id: str
    event_id: str
    notify_attendees: bool = True


class CalendarConnector(Connector):
    name = "calendar"
    settings_model = CalendarSettings
    actions: ClassVar[dict[str, ActionSpec]] = {
        "create_event": ActionSpec("create_event", CreateEventParams, "Create a calendar event",
                                   outputs=("event_id", "html_link")),
        "update_event": ActionSpec("update_event", UpdateEventParams, "Update a calendar event",
                                   outputs=("event_id",)),
        "cancel_event": ActionSpec("cancel_event", CancelEventParams, "Cancel a calendar event"),
    }

    def execute(self, call: ActionCall) -> dict[str, Any]:
        return write_to_outbox(self, call)
