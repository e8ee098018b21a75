"""``/v1/customers`` and ``/v1/technicians``: the people records, with soft delete."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from api.access_reason import AccessReason
from api.auth import requires
from api.crud import Cursor, DbSession, Limit, apply_patch, get_live, soft_delete, sort_type
from api.schemas.common import Page, Short
from api.schemas.people import (
    Channel,
    CustomerIn,
    CustomerOut,
    CustomerPatch,
    TechnicianIn,
    TechnicianOut,
    TechnicianPatch,
    Tier,
)
from store.listing import ListSpec, list_page
from store.models import Customer, Technician
from store.privacy.access import record_access

router = APIRouter(prefix="/v1", tags=["people"])
CUSTOMERS = ListSpec(Customer, ("created_at", "updated_at", "name"), ("tier", "preferred_channel", "city"),
                     "-created_at", (Customer.deleted_at.is_(None),))
TECHNICIANS = ListSpec(Technician, ("created_at", "updated_at", "name"), ("region", "active"),
                       "name", (Technician.deleted_at.is_(None),))

CustomerSort = sort_type(CUSTOMERS)
TechnicianSort = sort_type(TECHNICIANS)

@router.get("/customers", response_model=Page[CustomerOut])
def list_customers(session: DbSession, principal: requires("customers:read"), limit: Limit = 50,
                   cursor: Cursor = None, sort: CustomerSort = None, tier: Tier | None = None,
                   preferred_channel: Channel | None = None,
                   city: Annotated[str | None, Query(max_length=100)] = None,
                   reason: AccessReason = None) -> Page[CustomerOut]:
    page = list_page(session, CUSTOMERS, sort=sort, limit=limit, cursor=cursor,
                     filters={"tier": tier, "preferred_channel": preferred_channel, "city": city})
    record_access(session, principal.actor, [c.id for c in page.items], what="GET /v1/customers",
                  reason=reason)
    return Page(items=[CustomerOut.model_validate(c) for c in page.items], next_cursor=page.next_cursor)


@router.post("/customers", status_code=201, response_model=CustomerOut)
def create_customer(session: DbSession, principal: requires("customers:write"),
                    body: CustomerIn) -> CustomerOut:
    customer = Customer(**body.model_dump())
    session.add(customer)
    session.flush()  # the store's normalizers run now: a bad phone is a 422 naming the field
    return CustomerOut.model_validate(customer)


@router.get("/customers/{customer_id}", response_model=CustomerOut)
def get_customer(session: DbSession, principal: requires("customers:read"), customer_id: str,
                 reason: AccessReason = None) -> CustomerOut:
    customer = get_live(session, Customer, customer_id)
    record_access(session, principal.actor, [customer.id], what="GET /v1/customers/{id}", reason=reason)
    return CustomerOut.model_validate(customer)


@router.patch("/customers/{customer_id}", response_model=CustomerOut)
def patch_customer(session: DbSession, principal: requires("customers:write"), customer_id: str,
                   body: CustomerPatch) -> CustomerOut:
    customer = apply_patch(get_live(session, Customer, customer_id), body)
    session.flush()
    return CustomerOut.model_validate(customer)


@router.delete("/customers/{customer_id}", status_code=204)
def delete_customer(session: DbSession, principal: requires("customers:write"), customer_id: str) -> None:
    soft_delete(get_live(session, Customer, customer_id))


@router.get("/technicians", response_model=Page[TechnicianOut])
def list_technicians(session: DbSession, principal: requires("technicians:read"), limit: Limit = 50,
                     cursor: Cursor = None, sort: TechnicianSort = None, region: Short | None = None,
                     active: bool | None = None) -> Page[TechnicianOut]:
    page = list_page(session, TECHNICIANS, sort=sort, limit=limit, cursor=cursor,
                     filters={"region": region, "active": active})
    return Page(items=[TechnicianOut.model_validate(t) for t in page.items], next_cursor=page.next_cursor)


@router.post("/technicians", status_code=201, response_model=TechnicianOut)
def create_technician(session: DbSession, principal: requires("technicians:write"),
                      body: TechnicianIn) -> TechnicianOut:
    technician = Technician(**body.model_dump())
    session.add(technician)
    session.flush()
    return TechnicianOut.model_validate(technician)


@router.get("/technicians/{technician_id}", response_model=TechnicianOut)
def get_technician(session: DbSession, principal: requires("technicians:read"),
                   technician_id: str) -> TechnicianOut:
    return TechnicianOut.model_validate(get_live(session, Technician, technician_id))


@router.patch("/technicians/{technician_id}", response_model=TechnicianOut)
def patch_technician(session: DbSession, principal: requires("technicians:write"), technician_id: str,
                     body: TechnicianPatch) -> TechnicianOut:
    technician = apply_patch(get_live(session, Technician, technician_id), body)
    session.flush()
    return TechnicianOut.model_validate(technician)


@router.delete("/technicians/{technician_id}", status_code=204)
def delete_technician(session: DbSession, principal: requires("technicians:write"),
                      technician_id: str) -> None:
    soft_delete(get_live(session, Technician, technician_id))
