"""``/v1/privacy``: subjects' requests and rights (LGPD art. 18), scope ``privacy:admin``.

Each route serving a right records it in the request register (``store.privacy.requests``);
the export also records the read in the person's access log, with ``X-Access-Reason``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from api.access_reason import AccessReason
from api.auth import requires
from api.crud import DbSession
from api.schemas.privacy import (
    AnonymiseIn,
    CorrectIn,
    RefuseIn,
    RequestIn,
    RequestList,
    RequestOut,
    Served,
    SubjectIn,
)
from store.privacy.access import access_dict, access_log, record_access
from store.privacy.anonymise import anonymise_subject
from store.privacy.correct import correct_subject
from store.privacy.export import export_subject
from store.privacy.processors import subject_processors
from store.privacy.requests import RequestView, list_requests, open_request, refuse, serve
from store.privacy.subjects import find_subject

router = APIRouter(prefix="/v1/privacy", tags=["privacy"])
Admin = requires("privacy:admin")


@router.get("/requests", response_model=RequestList)
def get_requests(session: DbSession, principal: Admin, status: Annotated[
        Literal["open", "done", "refused"] | None, Query()] = None) -> RequestList:
    """The register: open requests first by deadline, ``overdue`` when past it."""
    return RequestList(requests=[RequestOut(**v.to_dict()) for v in list_requests(session, status=status)])


@router.post("/requests", status_code=201, response_model=RequestOut)
def post_request(session: DbSession, principal: Admin, body: RequestIn) -> RequestOut:
    """Record a request as it arrives; due 15 days later."""
    customer = find_subject(session, body.person)
    request = open_request(session, body.kind, customer.id, actor=principal.actor, notes=body.notes)
    return RequestOut(**RequestView(request, False).to_dict())


@router.post("/requests/{request_id}/refuse", response_model=RequestOut)
def refuse_request(session: DbSession, principal: Admin, request_id: str, body: RefuseIn) -> RequestOut:
    return RequestOut(**RequestView(refuse(session, request_id, body.reason), False).to_dict())


@router.post("/export", response_model=Served)
def export(session: DbSession, principal: Admin, body: SubjectIn, reason: AccessReason) -> Served:
    """Everything held about the person (the JSON of ``despacho privacy export``)."""
    customer = find_subject(session, body.person)
    document = export_subject(session, customer)
    served = serve(session, "export", customer.id, actor=principal.actor, request_id=body.request_id,
                   details={"via": "api"})
    record_access(session, principal.actor, [customer.id], what="POST /v1/privacy/export",
                  reason=reason or f"privacy request {served.id}")
    return Served(customer_id=customer.id, request=served.id, result=document)


@router.post("/correct", response_model=Served)
def correct(session: DbSession, principal: Admin, body: CorrectIn) -> Served:
    """Correct fields through the store's checks; a refused value is a 422 naming the field."""
    customer = find_subject(session, body.person)
    changed = correct_subject(session, customer, body.set, actor=principal.actor)
    served = serve(session, "correct", customer.id, actor=principal.actor, request_id=body.request_id,
                   details={"fields": changed})
    return Served(customer_id=customer.id, request=served.id, result={"changed": changed})


@router.post("/anonymise", response_model=Served)
def anonymise(session: DbSession, principal: Admin, body: AnonymiseIn) -> Served:
    """Anonymise the person; 422 (field ``person``) while open orders exist, unless ``force``."""
    customer = find_subject(session, body.person)
    result = anonymise_subject(session, customer, actor=principal.actor, force=body.force)
    served = serve(session, "anonymise", customer.id, actor=principal.actor, request_id=body.request_id,
                   details=result.to_dict())
    return Served(customer_id=customer.id, request=served.id, result=result.to_dict())


@router.post("/processors", response_model=Served)
def processors(session: DbSession, principal: Admin, body: SubjectIn) -> Served:
    customer = find_subject(session, body.person)
    uses: list[dict[str, Any]] = [u.to_dict() for u in subject_processors(session, customer)]
    served = serve(session, "processors", customer.id, actor=principal.actor, request_id=body.request_id,
                   details={"processors": sorted({u["processor"] for u in uses})})
    return Served(customer_id=customer.id, request=served.id, result={"processors": uses})


@router.post("/access-log", response_model=Served)
def get_access_log(session: DbSession, principal: Admin, body: SubjectIn) -> Served:
    customer = find_subject(session, body.person)
    rows = [access_dict(e) for e in access_log(session, customer.id)]
    served = serve(session, "access", customer.id, actor=principal.actor, request_id=body.request_id,
                   details={"entries": len(rows)})
    return Served(customer_id=customer.id, request=served.id, result={"accesses": rows})
