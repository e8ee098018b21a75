"""Google Calendar's push notifications: ``POST /webhooks/google/calendar``.

Google signs nothing; a channel is trusted by the secret token despacho gave
it when it opened the channel (``X-Goog-Channel-Token``, compared in constant
time) together with its id and the resource id Google gave back, all kept in
``calendar_sync_states``. A notice carries no change, only "this calendar
changed": the route stores a ``calendar.sync_requested`` event (id
``calendar.sync_requested:<channel>:<message number>``) and answers at once;
the daemon's calendar job sees the request and runs the incremental sync
(``connectors.calendar.sync``) — never inside the request, which Google
expects answered quickly. The event log makes the request durable (a daemon
that is down syncs when it is back) and lets rules watch pushes too.

``sync`` (the channel's first message) is acknowledged and ignored; a message
number not above the last one seen is a replay, acknowledged and ignored.
"""

from __future__ import annotations

import hmac
import logging
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from sqlmodel import Session, select
from starlette.concurrency import run_in_threadpool

from api.errors import ApiError
from api.webhooks.verify import SenderRejected, verified_sender
from engine.language.events import Event
from engine.runtime.intake import accept_events
from store.db import session_scope
from store.models import CalendarSyncState

log = logging.getLogger("despacho.api.webhooks.google_calendar")

SYNC_REQUESTED = "calendar.sync_requested"
SOURCE = "google"
STATES = ("sync", "exists", "not_exists")
# the longest value each header may have: our channel ids are uuids (Google allows 64), our
# tokens 43 characters (Google allows 256), resource ids are Google's (the column takes 255)
LIMITS = {"X-Goog-Channel-ID": 64, "X-Goog-Channel-Token": 256, "X-Goog-Resource-ID": 255}
MAX_MESSAGE_NUMBER = 2**63 - 1  # the column is a BIGINT


@dataclass(frozen=True)
class Notice:
    channel_id: str
    resource_state: str
    message_number: int


def _header(request: Request, name: str) -> str:
    value = request.headers.get(name)
    if not value:
        raise SenderRejected(f"no {name} header")
    if len(value) > LIMITS[name]:
        raise SenderRejected(f"{name} longer than {LIMITS[name]} characters")
    return value


async def verify_channel(request: Request, url: str) -> None:
    """The channel is one despacho opened, with its token and Google's resource id."""
    channel_id = _header(request, "X-Goog-Channel-ID")
    token = _header(request, "X-Goog-Channel-Token")
    resource_id = _header(request, "X-Goog-Resource-ID")
    state = await run_in_threadpool(_channel, request.app.state.ctx.engine, channel_id)
    if state is None:
        raise SenderRejected(f"unknown channel {channel_id!r}")
    # the token is never logged: a log reader could otherwise forge notices
    if not hmac.compare_digest((state.channel_token or "").encode(), token.encode()):
        raise SenderRejected(f"wrong token for channel {channel_id!r}")
    if not hmac.compare_digest((state.channel_resource_id or "").encode(), resource_id.encode()):
        raise SenderRejected(f"resource id does not match channel {channel_id!r}")


def _by_channel(channel_id: str) -> Any:
    # a scan of a table with one row per watched calendar: no index needed
    return select(CalendarSyncState).where(CalendarSyncState.channel_id == channel_id)


def _channel(engine: Any, channel_id: str) -> CalendarSyncState | None:
    with Session(engine) as session:
        return session.exec(_by_channel(channel_id)).first()


def _notice(request: Request) -> Notice:
    """The state and message number, checked (400 naming the header: a channel's own bug)."""
    state = request.headers.get("X-Goog-Resource-State", "")
    if state not in STATES:
        raise ApiError(f"X-Goog-Resource-State must be one of {', '.join(STATES)}, got {state[:20]!r}",
                       code="invalid_header")
    number = request.headers.get("X-Goog-Message-Number", "")
    if not (number.isascii() and number.isdigit()) or len(number) > 19 or int(number) > MAX_MESSAGE_NUMBER:
        raise ApiError(f"X-Goog-Message-Number must be a whole number below 2^63, got {number[:20]!r}",
                       code="invalid_header")
    return Notice(request.headers["X-Goog-Channel-ID"], state, int(number))


router = APIRouter(prefix="/google", tags=["webhooks"])


@router.post("/calendar", status_code=200, response_class=Response,
             responses={200: {"description": "Taken (a sync is requested), or ignored: the channel's "
                                             "first message, or a replay"}})
async def calendar_notification(
        request: Request, verified: Annotated[None, Depends(verified_sender(verify_channel))]) -> Response:
    """A calendar despacho watches changed; its incremental sync runs in the daemon, not here."""
    notice = _notice(request)
    await run_in_threadpool(_take, request.app.state.ctx.engine, notice)
    return Response(status_code=200)


def _take(engine: Any, notice: Notice) -> None:
    with session_scope(engine) as session:
        state = session.exec(_by_channel(notice.channel_id).with_for_update()).first()
        if state is None:
            return  # stopped between the check and now: nothing to sync
        last = state.last_message_number
        if last is not None and notice.message_number <= last:
            log.info("google calendar notice %d on channel %s replayed (last %d): ignored",
                     notice.message_number, notice.channel_id, last)
            return
        state.last_message_number = notice.message_number
        if notice.resource_state == "sync":
            return  # the channel is open; nothing changed yet
        data = {"calendar_id": state.calendar_id, "resource_state": notice.resource_state,
                "message_number": notice.message_number, "channel_id": notice.channel_id}
        event_id = f"{SYNC_REQUESTED}:{notice.channel_id}:{notice.message_number}"
        accept_events(session, [Event(type=SYNC_REQUESTED, id=event_id, source=SOURCE, data=data)])
