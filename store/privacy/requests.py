"""The register of subjects' requests (LGPD art. 18): each with its deadline, 15 days after it came.

Every right served (export, correction, anonymisation, list of processors, access log) is
recorded here, done at once or closing a request recorded when it arrived (by email, phone...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from store.errors import NotFound, ValidationFailed
from store.models import PrivacyRequest
from store.models.privacy_requests import REQUEST_KINDS, REQUEST_STATUSES
from store.types import utcnow

ANSWER_WITHIN = timedelta(days=15)  # art. 19 II: a complete answer within 15 days
MAX_NOTES = 2000


@dataclass(frozen=True)
class RequestView:
    request: PrivacyRequest
    overdue: bool

    def to_dict(self) -> dict[str, Any]:
        r = self.request
        return {"id": r.id, "kind": r.kind, "customer_id": r.customer_id,
                "requested_at": r.requested_at.isoformat(), "deadline": r.deadline.isoformat(),
                "status": r.status, "overdue": self.overdue, "requested_by": r.requested_by,
                "notes": r.notes, "details": r.details,
                "closed_at": r.closed_at.isoformat() if r.closed_at else None}


def open_request(session: Session, kind: str, customer_id: str | None, *, actor: str,
                 notes: str | None = None, now: datetime | None = None) -> PrivacyRequest:
    """A request as it arrives; it stays ``open`` until served or refused."""
    if kind not in REQUEST_KINDS:
        raise ValidationFailed("kind", f"'{kind}' is not one of: {', '.join(REQUEST_KINDS)}")
    if notes is not None and len(notes) > MAX_NOTES:
        raise ValidationFailed("notes", f"is longer than {MAX_NOTES} characters")
    at = now or utcnow()
    request = PrivacyRequest(kind=kind, customer_id=customer_id, requested_at=at, deadline=at + ANSWER_WITHIN,
                             requested_by=actor, notes=notes)
    session.add(request)
    session.flush()
    return request


def serve(session: Session, kind: str, customer_id: str, *, actor: str, request_id: str | None,
          details: dict[str, Any], now: datetime | None = None) -> PrivacyRequest:
    """Mark the request ``request_id`` done, or record a new one done now; checks kind and subject."""
    at = now or utcnow()
    if request_id is None:
        request = open_request(session, kind, customer_id, actor=actor, now=at)
    else:
        request = get_request(session, request_id)
        if request.status != "open":
            raise ValidationFailed("request", f"request '{request_id}' is {request.status}, not open")
        if request.kind != kind:
            raise ValidationFailed("request", f"request '{request_id}' asks for {request.kind}, not {kind}")
        if request.customer_id not in (None, customer_id):
            raise ValidationFailed("request", f"request '{request_id}' is about another customer")
        request.customer_id = customer_id
    request.status, request.closed_at, request.details = "done", at, details
    session.add(request)
    return request


def refuse(session: Session, request_id: str, reason: str, *, now: datetime | None = None) -> PrivacyRequest:
    """Refuse an open request (art. 18 §4: the reason is told to the subject)."""
    if not reason.strip():
        raise ValidationFailed("reason", "is required: the subject is told why")
    request = get_request(session, request_id)
    if request.status != "open":
        raise ValidationFailed("request", f"request '{request_id}' is {request.status}, not open")
    request.status, request.closed_at = "refused", now or utcnow()
    request.details = {**request.details, "refused_because": reason.strip()[:MAX_NOTES]}
    session.add(request)
    return request


def get_request(session: Session, request_id: str) -> PrivacyRequest:
    request = session.get(PrivacyRequest, request_id)
    if request is None:
        raise NotFound("privacy_request", request_id, field="request")
    return request


def list_requests(session: Session, *, status: str | None = None, now: datetime | None = None,
                  limit: int = 500) -> Sequence[RequestView]:
    """Open ones first by deadline (the overdue at the top), then the closed, newest first."""
    if status is not None and status not in REQUEST_STATUSES:
        raise ValidationFailed("status", f"'{status}' is not one of: {', '.join(REQUEST_STATUSES)}")
    at = now or utcnow()
    statement = select(PrivacyRequest)
    if status is not None:
        statement = statement.where(PrivacyRequest.status == status)
    rows = session.exec(statement.order_by(col(PrivacyRequest.requested_at).desc()).limit(limit)).all()
    views = [RequestView(r, r.status == "open" and r.deadline < at) for r in rows]
    return sorted(views, key=lambda v: (v.request.status != "open",
                                        v.request.deadline if v.request.status == "open" else at))
