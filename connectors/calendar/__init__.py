"""Google Calendar: technicians' appointments as Google events, kept in sync both ways."""

from connectors.calendar.connector import CalendarConnector
from connectors.calendar.settings import CalendarSettings

__all__ = ["CalendarConnector", "CalendarSettings"]
