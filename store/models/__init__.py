"""Every table, imported here so ``SQLModel.metadata`` knows them all (migrations, checks)."""

from store.models.accounting import (
    AccountingConflict,
    AccountingConnection,
    AccountingSyncAudit,
    AccountingSyncRecord,
    AccountingWebhookReceipt,
)
from store.models.admin import ApiClient, AuditLogEntry, Backup, FeatureFlag, Secret
from store.models.base import Record
from store.models.billing import Invoice, Payment
from store.models.calendar import (
    CalendarConflict,
    CalendarConnection,
    CalendarLink,
    CalendarSyncState,
)
from store.models.console import ConsoleSession, ConsoleUser, IntegrationCheck
from store.models.customers import Customer
from store.models.effects import ActionEffect
from store.models.events import Event
from store.models.imports import ImportKey
from store.models.notifications import Notification
from store.models.orders import Appointment, ServiceOrder
from store.models.privacy import ConsentRecord, Suppression
from store.models.privacy_requests import PrivacyIncident, PrivacyRequest
from store.models.rulesets import AcceptedRuleSet, DaemonRules
from store.models.runs import DeadLetter, RuleRun, RuleStep
from store.models.schedules import ScheduleClaim
from store.models.technicians import Technician
from store.models.whatsapp import WhatsAppConversation, WhatsAppMessage

metadata = Record.metadata

__all__ = [
    "AcceptedRuleSet",
    "AccountingConflict",
    "AccountingConnection",
    "AccountingSyncAudit",
    "AccountingSyncRecord",
    "AccountingWebhookReceipt",
    "ActionEffect",
    "ApiClient",
    "Appointment",
    "AuditLogEntry",
    "Backup",
    "CalendarConflict",
    "CalendarConnection",
    "CalendarLink",
    "CalendarSyncState",
    "ConsentRecord",
    "ConsoleSession",
    "ConsoleUser",
    "Customer",
    "DaemonRules",
    "DeadLetter",
    "Event",
    "FeatureFlag",
    "ImportKey",
    "IntegrationCheck",
    "Invoice",
    "Notification",
    "Payment",
    "PrivacyIncident",
    "PrivacyRequest",
    "Record",
    "RuleRun",
    "RuleStep",
    "ScheduleClaim",
    "Secret",
    "ServiceOrder",
    "Suppression",
    "Technician",
    "WhatsAppConversation",
    "WhatsAppMessage",
    "metadata",
]
