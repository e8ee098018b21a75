"""``/v1/privacy/incidents``: the incident register through the API, scope ``privacy:admin``.

The same store functions as ``despacho privacy incident``: the notice deadline (3 Brazilian
business days) is counted from the detection day in the company's time zone; each update
is audited with the fields it changed.
"""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.auth import requires
from api.crud import DbSession
from api.errors import InvalidRequest
from api.schemas.privacy import IncidentIn, IncidentList, IncidentOut, IncidentPatch
from store.audit import record_action
from store.privacy.incidents import add_incident, get_incident, incident_dict, list_incidents, update_incident
from store.types import utcnow

router = APIRouter(prefix="/v1/privacy/incidents", tags=["privacy"])
Admin = requires("privacy:admin")


def _timezone(request: Request) -> str:
    return str(request.app.state.ctx.settings.timezone)


@router.get("", response_model=IncidentList)
def list_all(request: Request, session: DbSession, principal: Admin) -> IncidentList:
    """The register, newest first; ``overdue`` when the notice is past its deadline."""
    zone = _timezone(request)
    return IncidentList(incidents=[IncidentOut(**incident_dict(i, timezone=zone))
                                   for i in list_incidents(session)])


@router.post("", status_code=201, response_model=IncidentOut)
def create(request: Request, session: DbSession, principal: Admin, body: IncidentIn) -> IncidentOut:
    """Register an incident; the answer carries its notice deadline."""
    zone = _timezone(request)
    fields = body.model_dump(exclude={"summary", "detected_at"})
    incident = add_incident(session, summary=body.summary, detected_at=body.detected_at or utcnow(),
                            timezone=zone, actor=principal.actor, **fields)
    return IncidentOut(**incident_dict(incident, timezone=zone))


@router.get("/{incident_id}", response_model=IncidentOut)
def show(request: Request, session: DbSession, principal: Admin, incident_id: str) -> IncidentOut:
    return IncidentOut(**incident_dict(get_incident(session, incident_id), timezone=_timezone(request)))


@router.patch("/{incident_id}", response_model=IncidentOut)
def update(request: Request, session: DbSession, principal: Admin, incident_id: str,
           body: IncidentPatch) -> IncidentOut:
    """Record what was done; only the fields sent change (``null`` clears an optional one)."""
    changes = body.model_dump(exclude_unset=True)
    if not changes:
        raise InvalidRequest("nothing to update: send at least one field", details={"field": "body"})
    incident = update_incident(session, incident_id, changes)
    record_action(session, principal.actor, "privacy.incident.update", entity_type="privacy_incident",
                  entity_id=incident_id, details={"fields": sorted(changes)})
    return IncidentOut(**incident_dict(incident, timezone=_timezone(request)))
