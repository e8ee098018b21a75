"""The typed registry of connectors and their actions (no name-building dispatch).

Every rule check imports this module and so every connector module: a connector imports its
transport's library (httpx, twilio, smtplib...) and the store's tables inside the functions that
send, never at the top, so ``despacho validate`` loads only the params models.
"""

from __future__ import annotations

from connectors.accounting import AccountingConnector
from connectors.backup import BackupConnector
from connectors.base import ActionSpec, Connector
from connectors.calendar import CalendarConnector
from connectors.email import EmailConnector
from connectors.event import EventConnector
from connectors.http import HttpConnector
from connectors.log import LogConnector
from connectors.order import OrderConnector
from connectors.records import RecordsConnector
from connectors.sms import SmsConnector
from connectors.whatsapp import WhatsAppConnector

CONNECTOR_CLASSES: tuple[type[Connector], ...] = (
    EmailConnector,
    SmsConnector,
    WhatsAppConnector,
    CalendarConnector,
    AccountingConnector,
    BackupConnector,
    OrderConnector,
    RecordsConnector,
    HttpConnector,
    EventConnector,
    LogConnector,
)


def all_actions() -> dict[str, ActionSpec]:
    """Every action by its full name, ``email.send`` ..."""
    return {
        f"{cls.name}.{action}": spec
        for cls in CONNECTOR_CLASSES
        for action, spec in cls.actions.items()
    }


def connector_class(name: str) -> type[Connector]:
    for cls in CONNECTOR_CLASSES:
        if cls.name == name:
            return cls
    raise KeyError(name)
