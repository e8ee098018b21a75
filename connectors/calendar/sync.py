"""Pulling a calendar's changes from Google: incremental with the stored sync token, else everything.

Each page is applied (``changes.apply_change``) and committed in its own
transaction; the ``nextSyncToken`` of the last page is stored in that last
page's transaction, never earlier. A sync stopped part-way (a crash, Google
failing on page 3) keeps its old token, so the next one lists the same
changes again: the pages already applied are recognised by their etag and
``updated`` (``echo``) and nothing is applied twice. Never time bounds with a
sync token (Google refuses them); a token Google no longer accepts (410) is
cleared and a full sync follows at once.

Conflicts that despacho wins are written back to Google inside the page's
transaction (the event returns to despacho's version, only if Google still
holds the version we overruled); if the write fails, the page is not
committed and the next sync meets the conflict again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from connectors.base import PermanentError
from connectors.calendar.changes import Kind, WriteBack, apply_page, remember_write
from connectors.calendar.settings import CalendarSettings
from connectors.calendar.versions import CANCELLED, event_times
from errors import SyncTokenExpired

if TYPE_CHECKING:
    from sqlmodel import Session

    from connectors.calendar.api import CalendarApi
    from store.models import CalendarSyncState

log = logging.getLogger("despacho.calendar.sync")

SessionFactory = Callable[[], AbstractContextManager["Session"]]
PAGE_SIZE = 250
MAX_PAGES = 10_000  # 2.5 million events: a listing that never ends is Google's bug, not a loop of ours
MAX_TOKEN = 1024  # the sync_token column


@dataclass
class SyncReport:
    calendar_id: str
    full: bool = False
    pages: int = 0
    items: int = 0
    applied: int = 0
    echoes: int = 0
    conflicts: int = 0
    rejected: int = 0

    def count(self, kind: Kind) -> None:
        self.items += 1
        if kind is Kind.APPLIED:
            self.applied += 1
        elif kind is Kind.ECHO:
            self.echoes += 1
        elif kind is Kind.CONFLICT:
            self.conflicts += 1
        elif kind is Kind.REJECTED:
            self.rejected += 1


# called after each committed page (a test stops a sync here, the CLI shows progress)
AfterPage = Callable[[SyncReport], None]


def sync_calendar(api: CalendarApi, session_factory: SessionFactory, settings: CalendarSettings,
                  calendar_id: str, *, page_size: int = PAGE_SIZE, after_page: AfterPage | None = None,
                  before_request: Callable[[str], None] | None = None) -> SyncReport:
    """Apply every change Google has for ``calendar_id`` since the last sync; see the module docstring.

    ``before_request(calendar_id)`` takes a slot in the calendar's rate limit before each call.
    """
    from store.types import utcnow

    started = utcnow()
    token = _state(session_factory, calendar_id).sync_token
    run = _Run(api, session_factory, settings, calendar_id, page_size, after_page, before_request)
    try:
        return run.pages(token, started)
    except SyncTokenExpired:
        log.info("calendar %s: the sync token expired; listing every event again", calendar_id)
        _forget_token(session_factory, calendar_id)
        run = _Run(api, session_factory, settings, calendar_id, page_size, after_page, before_request)
        return run.pages(None, started)


@dataclass
class _Run:
    api: CalendarApi
    sessions: SessionFactory
    settings: CalendarSettings
    calendar_id: str
    page_size: int
    after_page: AfterPage | None
    before_request: Callable[[str], None] | None

    def pages(self, token: str | None, started: datetime) -> SyncReport:
        report = SyncReport(self.calendar_id, full=token is None)
        page_token: str | None = None
        for _ in range(MAX_PAGES):
            page = self._list(token, page_token)
            self._apply(page, report, started)
            report.pages += 1
            if self.after_page is not None:
                self.after_page(report)
            page_token = _token(page, "nextPageToken")
            if page_token is None:
                return report
        raise PermanentError(f"calendar '{self.calendar_id}': more than {MAX_PAGES} pages in one sync",
                             code="sync_too_long")

    def _list(self, token: str | None, page_token: str | None) -> dict[str, Any]:
        if self.before_request is not None:
            self.before_request(self.calendar_id)
        return self.api.list_page(self.calendar_id, sync_token=token, page_token=page_token,
                                  max_results=self.page_size, show_deleted=token is None)

    def _apply(self, page: dict[str, Any], report: SyncReport, started: datetime) -> None:
        items = page.get("items") or []
        if not isinstance(items, list):
            raise PermanentError(f"calendar '{self.calendar_id}': Google's page has no list of items",
                                 code="invalid_response")
        with self.sessions() as session:
            for outcome in apply_page(session, self.settings, self.calendar_id, items):
                report.count(outcome.kind)
                if outcome.write_back is not None:
                    self._write_back(session, outcome.write_back)
            sync_token = _token(page, "nextSyncToken")
            if sync_token is not None:  # the last page: the sync is complete with this commit
                _finish(session, self.calendar_id, sync_token, started, full=report.full)

    def _write_back(self, session: Session, write_back: WriteBack) -> None:
        """Google returns to despacho's version (only if it still holds the one we overruled)."""
        if self.before_request is not None:
            self.before_request(self.calendar_id)
        if write_back.version["status"] == CANCELLED:
            try:
                self.api.delete_event(write_back.calendar_id, write_back.event_id)
            except PermanentError as exc:
                if exc.code not in ("gone", "not_found"):
                    raise
            remember_write(session, write_back, None)
            return
        body = {**event_times(write_back.version), "status": "confirmed"}
        try:
            answer = self.api.patch_event(write_back.calendar_id, write_back.event_id, body,
                                          etag=write_back.etag)
        except PermanentError as exc:
            if exc.code != "precondition_failed":
                raise
            # Google moved on since this page: its newer change is on a later page or the next sync
            log.info("calendar %s: event %s changed again before the write back; left to the next change",
                     write_back.calendar_id, write_back.event_id[:80])
            return
        remember_write(session, write_back, answer)


def _token(page: dict[str, Any], key: str) -> str | None:
    value = page.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value or len(value) > MAX_TOKEN:
        raise PermanentError(f"Google's {key} is not a string of at most {MAX_TOKEN} characters",
                             code="invalid_response")
    return value


def _state(session_factory: SessionFactory, calendar_id: str) -> CalendarSyncState:
    from store.models import CalendarSyncState

    with session_factory() as session:
        state = session.get(CalendarSyncState, calendar_id)
        if state is None:
            state = CalendarSyncState(calendar_id=calendar_id)
            session.add(state)
        session.flush()
        session.expunge(state)
        return state


def _forget_token(session_factory: SessionFactory, calendar_id: str) -> None:
    from store.models import CalendarSyncState

    with session_factory() as session:
        state = session.get(CalendarSyncState, calendar_id)
        if state is not None:
            state.sync_token = None


def _finish(session: Session, calendar_id: str, sync_token: str, started: datetime, *, full: bool) -> None:
    from store.models import CalendarSyncState

    state = session.get(CalendarSyncState, calendar_id, with_for_update=True)
    if state is None:
        state = CalendarSyncState(calendar_id=calendar_id)
        session.add(state)
    # ``last_synced_at`` is when this sync started: a push received after it asks for another
    state.sync_token, state.last_synced_at = sync_token, started
    if full:
        state.full_synced_at = started
