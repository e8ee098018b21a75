"""``/v1/service-orders`` (with transitions and assignment) and ``/v1/appointments``.

Status and technician change only through ``/status`` and ``/assign``: they
go through ``store.service_orders``, which checks the life cycle and records
the events rules listen to, in the same transaction.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.access_reason import AccessReason
from api.auth import requires
from api.crud import Cursor, DbSession, Limit, apply_patch, get_live, sort_type
from api.schemas.common import Id, Page, Short
from api.schemas.orders import (
    AppointmentIn,
    AppointmentOut,
    AppointmentPatch,
    AppointmentStatus,
    AssignIn,
    OrderIn,
    OrderOut,
    OrderPatch,
    OrderStatus,
    Priority,
    StatusChangeIn,
    StatusChangeOut,
)
from store.errors import ValidationFailed
from store.listing import ListSpec, list_page
from store.models import Appointment, ServiceOrder
from store.privacy.access import record_access
from store.service_orders import assign_technician, create_order, set_status

router = APIRouter(prefix="/v1", tags=["service orders"])
ORDERS = ListSpec(ServiceOrder, ("created_at", "updated_at"),
                  ("status", "priority", "region", "customer_id", "technician_id"), "-created_at",
                  (ServiceOrder.deleted_at.is_(None),))
APPOINTMENTS = ListSpec(Appointment, ("created_at", "starts_at"), ("order_id", "technician_id", "status"),
                        "starts_at")

OrderSort = sort_type(ORDERS)
AppointmentSort = sort_type(APPOINTMENTS)

@router.get("/service-orders", response_model=Page[OrderOut])
def list_orders(session: DbSession, principal: requires("orders:read"), limit: Limit = 50,
                cursor: Cursor = None, sort: OrderSort = None, status: OrderStatus | None = None,
                priority: Priority | None = None, region: Short | None = None,
                customer_id: Id | None = None, technician_id: Id | None = None,
                reason: AccessReason = None) -> Page[OrderOut]:
    page = list_page(session, ORDERS, sort=sort, limit=limit, cursor=cursor,
                     filters={"status": status, "priority": priority, "region": region,
                              "customer_id": customer_id, "technician_id": technician_id})
    # an order holds its customer's address: reading it is reading the customer's data
    record_access(session, principal.actor, [o.customer_id for o in page.items],
                  what="GET /v1/service-orders",
                  reason=reason)
    return Page(items=[OrderOut.model_validate(o) for o in page.items], next_cursor=page.next_cursor)


@router.post("/service-orders", status_code=201, response_model=OrderOut)
def post_order(session: DbSession, principal: requires("orders:write"), body: OrderIn) -> OrderOut:
    """A new ``open`` order; records ``service_order.created``."""
    fields = body.model_dump()
    order = create_order(session, customer_id=fields.pop("customer_id"), region=fields.pop("region"),
                         **fields)
    return OrderOut.model_validate(order)


@router.get("/service-orders/{order_id}", response_model=OrderOut)
def get_order(session: DbSession, principal: requires("orders:read"), order_id: str,
              reason: AccessReason = None) -> OrderOut:
    order = get_live(session, ServiceOrder, order_id)
    record_access(session, principal.actor, [order.customer_id], what="GET /v1/service-orders/{id}",
                  reason=reason)
    return OrderOut.model_validate(order)


@router.patch("/service-orders/{order_id}", response_model=OrderOut)
def patch_order(session: DbSession, principal: requires("orders:write"), order_id: str,
                body: OrderPatch) -> OrderOut:
    order = apply_patch(get_live(session, ServiceOrder, order_id), body)
    session.flush()
    return OrderOut.model_validate(order)


@router.post("/service-orders/{order_id}/status", response_model=StatusChangeOut,
             responses={409: {"description": "Transition not allowed from the current status"}})
def post_status(session: DbSession, principal: requires("orders:write"), order_id: str,
                body: StatusChangeIn) -> StatusChangeOut:
    """Move the order along its life cycle; the same status again changes nothing."""
    change = set_status(session, order_id, body.status, body.reason)
    return StatusChangeOut(order=OrderOut.model_validate(change.order),
                           previous_status=change.previous_status, changed=change.changed)


@router.post("/service-orders/{order_id}/assign", response_model=OrderOut,
             responses={409: {"description": "No eligible technician, or the status does not allow it"}})
def post_assign(session: DbSession, principal: requires("orders:write"), order_id: str,
                body: AssignIn | None = None) -> OrderOut:
    """Give the order the technician the strategy picks; records ``service_order.assigned``."""
    assignment = assign_technician(session, order_id, (body or AssignIn()).strategy)
    return OrderOut.model_validate(assignment.order)


@router.get("/appointments", response_model=Page[AppointmentOut])
def list_appointments(session: DbSession, principal: requires("orders:read"), limit: Limit = 50,
                      cursor: Cursor = None, sort: AppointmentSort = None, order_id: Id | None = None,
                      technician_id: Id | None = None,
                      status: AppointmentStatus | None = None) -> Page[AppointmentOut]:
    page = list_page(session, APPOINTMENTS, sort=sort, limit=limit, cursor=cursor,
                     filters={"order_id": order_id, "technician_id": technician_id, "status": status})
    return Page(items=[AppointmentOut.model_validate(a) for a in page.items], next_cursor=page.next_cursor)


@router.post("/appointments", status_code=201, response_model=AppointmentOut)
def post_appointment(session: DbSession, principal: requires("orders:write"),
                     body: AppointmentIn) -> AppointmentOut:
    get_live(session, ServiceOrder, body.order_id)
    appointment = Appointment(**body.model_dump())
    session.add(appointment)
    session.flush()
    return AppointmentOut.model_validate(appointment)


@router.get("/appointments/{appointment_id}", response_model=AppointmentOut)
def get_appointment(session: DbSession, principal: requires("orders:read"),
                    appointment_id: str) -> AppointmentOut:
    return AppointmentOut.model_validate(get_live(session, Appointment, appointment_id))


@router.patch("/appointments/{appointment_id}", response_model=AppointmentOut)
def patch_appointment(session: DbSession, principal: requires("orders:write"), appointment_id: str,
                      body: AppointmentPatch) -> AppointmentOut:
    appointment = apply_patch(get_live(session, Appointment, appointment_id), body)
    if appointment.ends_at <= appointment.starts_at:
        raise ValidationFailed("appointment.ends_at", "must be after starts_at")
    session.flush()
    return AppointmentOut.model_validate(appointment)
