"""Push channels: Google POSTs to despacho's webhook when a watched calendar changes.

A channel has an id we choose (a uuid4), a secret token we choose
(``secrets.token_urlsafe(32)``, checked on every push) and the resource id
and expiry Google gives back; ``calendar_sync_states`` keeps them. Google
caps a channel's life (about a week for calendars), so the daemon renews
each one ``renew_before`` its expiry: a new channel first, then the old one
is stopped (a change between the two is announced twice at worst, never
missed). A new channel starts its message numbers again, so the last one
seen is reset with it.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from connectors.base import PermanentError
from connectors.calendar.settings import CalendarSettings
from connectors.calendar.sync import SessionFactory

if TYPE_CHECKING:
    from connectors.calendar.api import CalendarApi

log = logging.getLogger("despacho.calendar.channels")

WEBHOOK_PATH = "/webhooks/google/calendar"
MAX_RESOURCE_ID = 255


def webhook_address(public_url: str) -> str:
    return public_url.rstrip("/") + WEBHOOK_PATH


def watch_calendar(api: CalendarApi, session_factory: SessionFactory, settings: CalendarSettings,
                   calendar_id: str, public_url: str) -> datetime:
    """Open a channel on ``calendar_id`` and store it (stopping the one it replaces); its expiry."""
    from store.durations import parse_duration

    channel_id, token = str(uuid.uuid4()), secrets.token_urlsafe(32)
    ttl = int(parse_duration(settings.channel_ttl).total_seconds())
    answer = api.watch(calendar_id, channel_id, webhook_address(public_url), token, ttl)
    resource_id, expires_at = _resource_id(answer), _expiry(answer, ttl)
    previous = _store_channel(session_factory, calendar_id, channel_id, token, resource_id, expires_at)
    if previous is not None:
        _stop_quietly(api, calendar_id, *previous)
    log.info("calendar %s: push channel %s open until %s", calendar_id, channel_id, expires_at.isoformat())
    return expires_at


def stop_channels(api: CalendarApi | None, session_factory: SessionFactory, calendar_id: str) -> bool:
    """Stop the calendar's channel (a disconnect); ``False`` when it had none.

    Without ``api`` (the grant is broken) the channel is only forgotten here: its token no
    longer matches, so the webhook refuses what Google sends until the channel expires.
    """
    from store.models import CalendarSyncState

    with session_factory() as session:
        state = session.get(CalendarSyncState, calendar_id)
        if state is None or state.channel_id is None:
            return False
        channel = (state.channel_id, state.channel_resource_id or "")
        state.channel_id = state.channel_resource_id = state.channel_token = None
        state.channel_expires_at = state.last_message_number = None
    if api is not None:
        _stop_quietly(api, calendar_id, *channel)
    return True


def channels_due(session_factory: SessionFactory, settings: CalendarSettings, now: datetime) -> list[str]:
    """Calendars whose channel expires within ``renew_before`` (or already has)."""
    from sqlmodel import col, select

    from store.durations import parse_duration
    from store.models import CalendarSyncState

    horizon = now + parse_duration(settings.renew_before)
    with session_factory() as session:
        return list(session.exec(select(CalendarSyncState.calendar_id).where(
            col(CalendarSyncState.channel_id).is_not(None),
            col(CalendarSyncState.channel_expires_at) <= horizon)))


def renew_channels(api_for: Callable[[str], CalendarApi], session_factory: SessionFactory,
                   settings: CalendarSettings, public_url: str, now: datetime) -> dict[str, str]:
    """Renew every channel due; per calendar ``renewed`` or why not (one failure stops no other)."""
    results: dict[str, str] = {}
    for calendar_id in channels_due(session_factory, settings, now):
        try:
            watch_calendar(api_for(calendar_id), session_factory, settings, calendar_id, public_url)
            results[calendar_id] = "renewed"
        except PermanentError as exc:
            log.warning("calendar %s: push channel not renewed: %s", calendar_id, exc)
            results[calendar_id] = str(exc)
    return results


def _store_channel(session_factory: SessionFactory, calendar_id: str, channel_id: str, token: str,
                   resource_id: str, expires_at: datetime) -> tuple[str, str] | None:
    from store.models import CalendarSyncState

    with session_factory() as session:
        state = session.get(CalendarSyncState, calendar_id, with_for_update=True)
        if state is None:
            state = CalendarSyncState(calendar_id=calendar_id)
            session.add(state)
        previous = (state.channel_id, state.channel_resource_id or "") if state.channel_id else None
        state.channel_id, state.channel_token, state.channel_resource_id = channel_id, token, resource_id
        state.channel_expires_at, state.last_message_number = expires_at, None
        return previous


def _stop_quietly(api: CalendarApi, calendar_id: str, channel_id: str, resource_id: str) -> None:
    try:
        api.stop_channel(channel_id, resource_id)
    except PermanentError as exc:  # expired or stopped already: it sends nothing either way
        log.info("calendar %s: channel %s not stopped (%s)", calendar_id, channel_id, exc)


def _resource_id(answer: dict[str, Any]) -> str:
    value = answer.get("resourceId")
    if not isinstance(value, str) or not value or len(value) > MAX_RESOURCE_ID:
        raise PermanentError("Google's channel has no usable resourceId", code="invalid_response")
    return value


def _expiry(answer: dict[str, Any], ttl: int) -> datetime:
    """Google's ``expiration`` (milliseconds since the epoch), else what we asked for."""
    now = datetime.now(UTC)
    try:
        expires_at = datetime.fromtimestamp(int(str(answer.get("expiration"))) / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        return now + timedelta(seconds=ttl)
    return min(expires_at, now + timedelta(seconds=ttl) + timedelta(days=1))
