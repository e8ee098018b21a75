"""The Calendar wire through the real googleapiclient against the local fake."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from connectors.calendar.api import CalendarApi
from connectors.calendar.auth import credentials_for
from connectors.calendar.ids import event_id_for
from connectors.calendar.settings import CalendarSettings
from errors import PermanentError, SyncTokenExpired, TransientError
from store.secrets import SecretBox
from tests.connectors.calendar.conftest import Connected
from tests.fakes.google_calendar import FakeGoogleCalendar

START = datetime(2027, 3, 1, 12, tzinfo=UTC)


def event(summary: str = "Visita", start: datetime = START, hours: float = 1.0,
          **extra: Any) -> dict[str, Any]:
    return {"summary": summary, "start": {"dateTime": start.isoformat(), "timeZone": "UTC"},
            "end": {"dateTime": (start + timedelta(hours=hours)).isoformat(), "timeZone": "UTC"}, **extra}


@pytest.fixture
def api_for(calendar_settings: CalendarSettings, sessions: Any,
            box: SecretBox) -> Callable[[str], CalendarApi]:
    def make(calendar_id: str) -> CalendarApi:
        credentials = credentials_for(calendar_settings, sessions, calendar_id, box=box)
        return CalendarApi(calendar_settings, credentials)
    return make


@pytest.fixture
def ana(connect: Callable[..., Connected]) -> Connected:
    return connect()


@pytest.fixture
def api(api_for: Callable[[str], CalendarApi], ana: Connected) -> CalendarApi:
    return api_for(ana.calendar_id)


def test_insert_with_client_id_then_get_returns_the_same_event(api: CalendarApi, ana: Connected) -> None:
    event_id = event_id_for("rule:event:0")
    created = api.insert_event(ana.calendar_id, {**event(), "id": event_id})
    fetched = api.get_event(ana.calendar_id, event_id)
    assert created["id"] == fetched["id"] == event_id
    assert fetched["etag"] == created["etag"]
    assert fetched["status"] == "confirmed"


def test_insert_with_a_used_id_is_a_permanent_duplicate(api: CalendarApi, ana: Connected,
                                                        google: FakeGoogleCalendar) -> None:
    body = {**event(), "id": event_id_for("k")}
    api.insert_event(ana.calendar_id, body)
    with pytest.raises(PermanentError) as caught:
        api.insert_event(ana.calendar_id, body)
    assert caught.value.code == "duplicate"
    assert len(google.events(ana.calendar_id)) == 1


def test_insert_with_an_id_outside_base32hex_is_refused(api: CalendarApi, ana: Connected) -> None:
    with pytest.raises(PermanentError) as caught:
        api.insert_event(ana.calendar_id, {**event(), "id": "Not-Valid_id"})
    assert caught.value.code == "invalid_request"


def test_patch_changes_only_the_given_fields_and_a_new_etag(api: CalendarApi, ana: Connected) -> None:
    created = api.insert_event(ana.calendar_id, {**event(), "id": event_id_for("p"), "location": "Rua A"})
    patched = api.patch_event(ana.calendar_id, created["id"], {"summary": "Visita remarcada"})
    assert patched["summary"] == "Visita remarcada" and patched["location"] == "Rua A"
    assert patched["etag"] != created["etag"]
    assert patched["updated"] > created["updated"]


def test_patch_with_a_stale_etag_is_refused(api: CalendarApi, ana: Connected) -> None:
    created = api.insert_event(ana.calendar_id, {**event(), "id": event_id_for("e")})
    api.patch_event(ana.calendar_id, created["id"], {"summary": "B"})
    with pytest.raises(PermanentError) as caught:
        api.patch_event(ana.calendar_id, created["id"], {"summary": "C"}, etag=created["etag"])
    assert caught.value.code == "precondition_failed"


def test_delete_cancels_and_a_second_delete_is_gone(api: CalendarApi, ana: Connected) -> None:
    created = api.insert_event(ana.calendar_id, {**event(), "id": event_id_for("d")})
    api.delete_event(ana.calendar_id, created["id"])
    assert api.get_event(ana.calendar_id, created["id"])["status"] == "cancelled"
    with pytest.raises(PermanentError) as caught:
        api.delete_event(ana.calendar_id, created["id"])
    assert caught.value.code == "gone"


def test_get_of_an_unknown_event_is_permanent_not_found(api: CalendarApi, ana: Connected) -> None:
    with pytest.raises(PermanentError) as caught:
        api.get_event(ana.calendar_id, "abcdef12345")
    assert caught.value.code == "not_found"


def test_list_pages_then_sync_token_returns_only_changes_including_deleted(
        api: CalendarApi, ana: Connected, google: FakeGoogleCalendar) -> None:
    for number in range(7):
        google.put_event(ana.calendar_id, {**event(f"e{number}"), "id": f"event{number:04d}"})
    seen, page, token = [], api.list_page(ana.calendar_id, max_results=3), None
    while True:
        seen += [item["id"] for item in page["items"]]
        if "nextPageToken" not in page:
            token = page["nextSyncToken"]
            break
        page = api.list_page(ana.calendar_id, page_token=page["nextPageToken"], max_results=3)
    assert sorted(seen) == [f"event{n:04d}" for n in range(7)]
    api.delete_event(ana.calendar_id, "event0002")
    google.put_event(ana.calendar_id, {"id": "event0005", "summary": "mudou"})
    changes = api.list_page(ana.calendar_id, sync_token=token)
    assert {(item["id"], item["status"]) for item in changes["items"]} == {
        ("event0002", "cancelled"), ("event0005", "confirmed")}
    assert "nextSyncToken" in changes


def test_expired_sync_token_raises_sync_token_expired(api: CalendarApi, ana: Connected,
                                                      google: FakeGoogleCalendar) -> None:
    token = api.list_page(ana.calendar_id)["nextSyncToken"]
    google.expire_sync_tokens()
    with pytest.raises(SyncTokenExpired):
        api.list_page(ana.calendar_id, sync_token=token)


def test_ten_thousand_events_list_in_pages_of_250(api: CalendarApi, ana: Connected,
                                                  google: FakeGoogleCalendar) -> None:
    for number in range(10_000):
        google.put_event(ana.calendar_id, {**event(f"e{number}"), "id": f"bulk{number:06d}"})
    pages, page = 1, api.list_page(ana.calendar_id)
    count = len(page["items"])
    while "nextPageToken" in page:
        page = api.list_page(ana.calendar_id, page_token=page["nextPageToken"])
        pages, count = pages + 1, count + len(page["items"])
    assert (pages, count) == (40, 10_000)


def test_free_busy_of_one_and_of_many_calendars(api_for: Callable[[str], CalendarApi],
                                                connect: Callable[..., Connected],
                                                google: FakeGoogleCalendar) -> None:
    ana, bia = connect(), connect("bia@example.com", "Bia")
    google.put_event(ana.calendar_id, {**event(), "id": "bus00001"})
    google.put_event(ana.calendar_id, {**event(start=START + timedelta(minutes=30)), "id": "bus00002"})
    google.put_event(ana.calendar_id, {**event(start=START + timedelta(hours=3)), "id": "free00001",
                                       "transparency": "transparent"})
    api = api_for(ana.calendar_id)
    one = api.free_busy([ana.calendar_id], START - timedelta(hours=1), START + timedelta(hours=6))
    assert one == {ana.calendar_id: [{"start": "2027-03-01T12:00:00.000Z",
                                      "end": "2027-03-01T13:30:00.000Z"}]}
    both = api.free_busy([ana.calendar_id, bia.calendar_id], START, START + timedelta(hours=1))
    assert both[bia.calendar_id] == [] and len(both[ana.calendar_id]) == 1


def test_watch_then_push_sends_google_headers_and_stop_removes_the_channel(
        api: CalendarApi, ana: Connected, google: FakeGoogleCalendar) -> None:
    from tests.fakes.google_calendar import push_receiver

    with push_receiver() as receiver:
        channel = api.watch(ana.calendar_id, "chan-1", receiver.url, "secret-token", 3600)
        assert channel["id"] == "chan-1" and channel["resourceId"]
        statuses = google.push(ana.calendar_id, "sync")
        received = receiver.received
    assert statuses == [200]
    assert received[0]["X-Goog-Channel-Token"] == "secret-token"
    assert received[0]["X-Goog-Resource-State"] == "sync" and received[0]["X-Goog-Message-Number"] == "1"
    api.stop_channel("chan-1", channel["resourceId"])
    assert google.channels == {}


@pytest.mark.parametrize(("status", "reason"), [(403, "rateLimitExceeded"), (403, "userRateLimitExceeded"),
                                                (429, "rateLimitExceeded"), (500, "backendError"),
                                                (503, "backendError")])
def test_rate_limits_and_server_errors_are_transient_with_retry_after(
        api: CalendarApi, ana: Connected, google: FakeGoogleCalendar, status: int, reason: str) -> None:
    google.fail_next(status, reason, retry_after=7)
    with pytest.raises(TransientError) as caught:
        api.get_event(ana.calendar_id, "abcdef12345")
    assert caught.value.retry_after == 7.0


def test_forbidden_is_permanent(api: CalendarApi, ana: Connected, google: FakeGoogleCalendar) -> None:
    google.fail_next(403, "forbidden")
    with pytest.raises(PermanentError) as caught:
        api.get_event(ana.calendar_id, "abcdef12345")
    assert caught.value.code == "calendar_forbidden"


def test_an_unreachable_google_is_transient(calendar_settings: CalendarSettings, api: CalendarApi,
                                            ana: Connected) -> None:
    from tests.fakes.ports import free_port

    dead = CalendarApi(calendar_settings.model_copy(update={"api_url": f"http://127.0.0.1:{free_port()}/"}),
                       api.credentials)
    with pytest.raises(TransientError):
        dead.get_event(ana.calendar_id, "abcdef12345")


def test_a_purged_event_is_not_found_and_leaves_listings_intact(api: CalendarApi, ana: Connected,
                                                                google: FakeGoogleCalendar) -> None:
    created = api.insert_event(ana.calendar_id, {**event(), "id": event_id_for("purge")})
    api.delete_event(ana.calendar_id, created["id"])
    google.purge(ana.calendar_id, created["id"])
    with pytest.raises(PermanentError) as caught:
        api.get_event(ana.calendar_id, created["id"])
    assert caught.value.code == "not_found"
    assert api.list_page(ana.calendar_id, show_deleted=True)["items"] == []


def test_sync_token_with_time_bounds_is_refused_by_google(ana: Connected, google: FakeGoogleCalendar,
                                                          api: CalendarApi) -> None:
    token = api.list_page(ana.calendar_id)["nextSyncToken"]
    request = api._service.events().list(calendarId=ana.calendar_id, syncToken=token,
                                         timeMin="2027-01-01T00:00:00Z")
    with pytest.raises(PermanentError) as caught:
        api._run(request, ana.calendar_id, sync_token=True)
    assert caught.value.code == "invalid_request"
