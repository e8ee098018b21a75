"""The incident register: security incidents with personal data and their notices to the ANPD.

Resolution CD/ANPD 15/2024 (art. 6): an incident that may bring relevant risk or damage to
the subjects is notified to the ANPD and to the subjects within 3 business days of the
controller learning of it. ``deadline`` is that day, counted in Brazilian national business
days from the detection date in the company's time zone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from store.errors import NotFound, ValidationFailed
from store.models import PrivacyIncident
from store.privacy.business_days import add_business_days
from store.types import utcnow

NOTICE_BUSINESS_DAYS = 3
UPDATABLE = ("summary", "occurred_at", "data_categories", "subjects_affected", "risk", "measures",
             "anpd_notified_at", "subjects_notified_at", "status")
MAX_CATEGORIES = 30


def notice_deadline(detected_at: datetime, timezone: str) -> date:
    return add_business_days(detected_at.astimezone(ZoneInfo(timezone)).date(), NOTICE_BUSINESS_DAYS)


def add_incident(session: Session, *, summary: str, detected_at: datetime, timezone: str, actor: str,
                 **fields: Any) -> PrivacyIncident:
    values = _checked({"summary": summary, **fields})
    incident = PrivacyIncident(detected_at=detected_at, deadline=notice_deadline(detected_at, timezone),
                               recorded_by=actor, **values)
    session.add(incident)
    session.flush()
    return incident


def update_incident(session: Session, incident_id: str, changes: Mapping[str, Any]) -> PrivacyIncident:
    values = _checked(dict(changes))
    incident = get_incident(session, incident_id)
    for name, value in values.items():
        setattr(incident, name, value)
    session.add(incident)
    session.flush()
    return incident


def get_incident(session: Session, incident_id: str) -> PrivacyIncident:
    incident = session.get(PrivacyIncident, incident_id)
    if incident is None:
        raise NotFound("privacy_incident", incident_id, field="incident")
    return incident


def list_incidents(session: Session, *, limit: int = 200) -> Sequence[PrivacyIncident]:
    return session.exec(select(PrivacyIncident).order_by(col(PrivacyIncident.detected_at).desc())
                        .limit(limit)).all()


def incident_dict(incident: PrivacyIncident, now: datetime | None = None,
                  timezone: str = "UTC") -> dict[str, Any]:
    today = (now or utcnow()).astimezone(ZoneInfo(timezone)).date()
    notified = incident.anpd_notified_at is not None
    return {"id": incident.id, "summary": incident.summary, "status": incident.status, "risk": incident.risk,
            "occurred_at": _iso(incident.occurred_at), "detected_at": _iso(incident.detected_at),
            "deadline": incident.deadline.isoformat(),
            "overdue": not notified and incident.status == "open" and today > incident.deadline,
            "data_categories": incident.data_categories, "subjects_affected": incident.subjects_affected,
            "measures": incident.measures, "anpd_notified_at": _iso(incident.anpd_notified_at),
            "subjects_notified_at": _iso(incident.subjects_notified_at), "recorded_by": incident.recorded_by}


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _checked(values: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(values) - set(UPDATABLE))
    if unknown:
        raise ValidationFailed(unknown[0], f"is not a field of an incident (one of: {', '.join(UPDATABLE)})")
    categories = values.get("data_categories")
    if categories is not None:
        bad = any(not str(c).strip() or len(str(c)) > 100 for c in categories)
        if len(categories) > MAX_CATEGORIES or bad:
            raise ValidationFailed("data_categories", f"at most {MAX_CATEGORIES} categories of 1 to 100 "
                                                      "characters each")
        values["data_categories"] = [str(c).strip() for c in categories]
    affected = values.get("subjects_affected")
    if affected is not None and (not isinstance(affected, int) or affected < 0):
        raise ValidationFailed("subjects_affected", f"{affected!r} is not a count (0 or more)")
    for name in ("summary", "measures"):
        text = values.get(name)
        limit = 2000 if name == "summary" else 4000
        if isinstance(text, str) and len(text) > limit:
            raise ValidationFailed(name, f"is longer than {limit} characters")
    return values
