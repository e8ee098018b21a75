"""``POST /v1/events``: the main way events enter despacho (one, or a batch)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request

from api.auth import requires
from api.context import ApiContext
from api.crud import Cursor, DbSession, Limit, get_live, sort_type
from api.errors import ApiError, InvalidRequest
from api.event_policy import admit
from api.schemas.common import Page
from api.schemas.operations import AcceptedEvent, EventOut, EventsAccepted
from engine.language.event_input import EventRefused, Limits, parse_events
from engine.language.events import Event
from store.listing import ListSpec, list_page
from store.models import Event as EventRow

router = APIRouter(prefix="/v1/events", tags=["events"])
EVENTS = ListSpec(EventRow, ("occurred_at", "recorded_at"), ("type", "source"), "-recorded_at")

EventSort = sort_type(EVENTS)
_JSON_TYPE = re.compile(r"^application/([a-z0-9.+-]*\+)?json\s*(;|$)", re.IGNORECASE)
# the body is read by hand (to apply the intake limits before pydantic), so it is declared here
_EVENT_SCHEMA = Event.model_json_schema()
EVENTS_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "anyOf": [_EVENT_SCHEMA, {"type": "array", "items": _EVENT_SCHEMA}]}}}}}

@router.post("", status_code=202, response_model=EventsAccepted, openapi_extra=EVENTS_BODY,
             responses={403: {"description": "A type outside the client's allow-list"},
                        413: {"description": "Body or batch too large"},
                        422: {"description": "A value the log cannot store; a reserved type, id or source; "
                                             "an `at` past api.event_clock_skew"}})
async def post_events(request: Request, principal: requires("events:write")) -> EventsAccepted:
    """Store one event or a list of them in one transaction; 202 with their ids.

    A 202 means committed. Idempotent by event ``id``: a redelivered id is
    accepted with ``stored: false`` and changes nothing. Without an ``id`` one is generated, so give
    one when the sender may retry. ``source`` is the client's own (set by the server). Values the event
    log cannot store (``NaN``, ``Infinity``, a NUL character, nesting past 64 levels), types, sources and
    ids only despacho produces, and an ``at`` past ``api.event_clock_skew`` in the future are refused with
    422 naming the field; a type outside the client's allow-list with 403 ``event_type_not_allowed``.
    """
    ctx: ApiContext = request.app.state.ctx
    body = await request.body()
    events = _events(body, request.headers.get("content-type"), ctx.api.max_body_bytes)
    if not events:
        raise ApiError("the list of events is empty", code="empty_batch")
    if len(events) > ctx.api.max_batch:
        raise ApiError(f"{len(events)} events in one request; at most {ctx.api.max_batch}",
                       code="batch_too_large")
    root = "events" if body.lstrip().startswith(b"[") else "event"
    events = admit(events, root, principal.client_id, await ctx.clients.state(principal.client_id),
                   datetime.now(UTC), ctx.api.event_clock_skew)
    accepted = await ctx.intake.submit(events)  # shares a transaction with concurrent requests
    for item in accepted:
        ctx.metrics.events.labels("true" if item.stored else "false").inc()
    return EventsAccepted(accepted=[AcceptedEvent(id=a.id, stored=a.stored) for a in accepted])


def _events(body: bytes, content_type: str | None, max_bytes: int) -> list[Event]:
    """The body under the limits every intake shares (``engine.language.event_input``), or 422."""
    if content_type is not None and not _JSON_TYPE.match(content_type):
        raise InvalidRequest("the body must be JSON (Content-Type: application/json)",
                             details=[{"loc": ["body"], "msg": "not JSON", "type": "content_type"}])
    try:
        return parse_events(body, Limits(max_bytes=max_bytes))
    except EventRefused as exc:
        first = exc.problems[0]
        raise InvalidRequest(f"{first.path}: {first.message}" if first.path else first.message,
                             details=[{"loc": ["body", *f.loc], "msg": f.message, "type": f.kind}
                                      for f in exc.flaws]) from exc


@router.get("", response_model=Page[EventOut])
def list_events(session: DbSession, principal: requires("events:read"), limit: Limit = 50,
                cursor: Cursor = None, sort: EventSort = None,
                type: Annotated[str | None, Query(max_length=100)] = None,
                source: Annotated[str | None, Query(max_length=100)] = None) -> Page[EventOut]:
    page = list_page(session, EVENTS, filters={"type": type, "source": source}, sort=sort,
                     limit=limit, cursor=cursor)
    return Page(items=[EventOut.model_validate(e) for e in page.items], next_cursor=page.next_cursor)


@router.get("/{event_id}", response_model=EventOut)
def get_event(session: DbSession, principal: requires("events:read"), event_id: str) -> EventOut:
    return EventOut.model_validate(get_live(session, EventRow, event_id))
