"""Google Calendar pull sync through despacho vs bare page fetches, from the same local fake Google.

Run: .venv/bin/python bench/bench_calendar_sync.py [--events 10000] [--changes 10] [--runs 3] [--rounds 5]

- The fake (``tests/fakes/google_calendar.py``, a threaded HTTP server in this process) holds
  ``--events`` events on one calendar. A fresh SQLite database made by the migrations holds one
  appointment (with customer and order) and one ``CalendarLink`` per event, as despacho's
  ``calendar.create_event`` leaves them: every item of a full sync is matched to its link.
- full: ``sync_calendar`` with no sync token on a fresh copy of that database (pages of 250
  through the real googleapiclient, each page applied and committed, the sync token stored;
  from the second run on, the events earlier runs moved are applied, the rest are echoes) vs
  the same pages fetched with a bare ``httpx.Client`` (JSON decoded, nothing else).
  Ratio = despacho throughput / bare; target >= 0.5.
- incremental: ``--changes`` events moved in Google, then ``sync_calendar`` with the stored token
  (one page, each change applied: the visit moved and ``appointment.rescheduled`` recorded) vs
  one bare fetch of a page of the full listing (250 events, the page the full sync is made of),
  ``--rounds`` times per run (median). Ratio = despacho time / bare page; target <= 2: an
  incremental sync costs about one page, not the calendar. Also printed, for reference: the
  ratio against a bare fetch of the incremental page itself (the same sync token, 10 items),
  which leaves out the work of applying the changes (10 visits moved, 10 events recorded).

Both sides of each ratio are measured alternately in the same run; medians of ``--runs``. The
machine is shared: the load average is printed before and after.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from connectors.calendar.api import CalendarApi
from connectors.calendar.settings import CalendarSettings
from connectors.calendar.sync import sync_calendar
from store.db import make_engine, session_scope
from store.migrate import upgrade
from store.models import Appointment, CalendarLink, CalendarSyncState, Customer, ServiceOrder, Technician
from tests.fakes.google_calendar import CLIENT_ID, CLIENT_SECRET, FakeGoogleCalendar, google_calendar_server

CALENDAR = "bench.tecnico@example.com"
START = datetime(2027, 3, 1, 12, tzinfo=UTC)
PAGE = 250


def when(moment: datetime) -> dict[str, str]:
    return {"dateTime": moment.isoformat(), "timeZone": "America/Sao_Paulo"}


def fill_google(google: FakeGoogleCalendar, count: int) -> list[dict[str, Any]]:
    google.add_calendar(CALENDAR)
    return [google.insert(CALENDAR, {"id": f"despacho{n:06d}", "summary": f"OS {n}",
                                     "start": when(START + timedelta(hours=n)),
                                     "end": when(START + timedelta(hours=n, minutes=90))})
            for n in range(count)]


def fill_store(url: str, events: list[dict[str, Any]]) -> list[str]:
    """One visit and link per event, as despacho's create_event leaves them; returns the visit ids."""
    engine = make_engine(url)
    ids = []
    with session_scope(engine) as session:
        technician = Technician(name="João Lima", region="sp", google_calendar_id=CALENDAR)
        customer = Customer(name="Maria Souza", phone="+5511987654321")
        session.add_all([technician, customer])
        session.flush()
        for n, event in enumerate(events):
            order = ServiceOrder(customer_id=customer.id, region="sp", technician_id=technician.id,
                                 status="scheduled")
            session.add(order)
            session.flush()
            starts_at = START + timedelta(hours=n)
            visit = Appointment(order_id=order.id, technician_id=technician.id, starts_at=starts_at,
                                ends_at=starts_at + timedelta(minutes=90))
            session.add(visit)
            session.flush()
            session.add(CalendarLink(appointment_id=visit.id, calendar_id=CALENDAR,
                                     google_event_id=event["id"], etag=event["etag"],
                                     google_updated=_time(event["updated"]),
                                     synced_at=datetime.now(UTC), synced_version=_version(event)))
            ids.append(visit.id)
    engine.dispose()
    return ids


def _time(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _version(event: dict[str, Any]) -> dict[str, Any]:
    return {"start": _time(event["start"]["dateTime"]).astimezone(UTC).isoformat(),
            "end": _time(event["end"]["dateTime"]).astimezone(UTC).isoformat(), "status": "confirmed",
            "summary": event["summary"]}


def access_token(google: FakeGoogleCalendar, refresh_token: str) -> str:
    answer = httpx.post(google.token_uri, data={"grant_type": "refresh_token", "refresh_token": refresh_token,
                                                "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET})
    return str(answer.json()["access_token"])


def despacho_api(settings: CalendarSettings, refresh_token: str) -> CalendarApi:
    from google.oauth2.credentials import Credentials

    credentials = Credentials(token=None, refresh_token=refresh_token, token_uri=settings.token_uri,  # type: ignore[no-untyped-call]
                              client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    return CalendarApi(settings, credentials)


class Bare:
    """The baseline: the same pages with a plain HTTP client, JSON decoded, nothing applied."""

    def __init__(self, google: FakeGoogleCalendar, token: str) -> None:
        self.client = httpx.Client(headers={"Authorization": f"Bearer {token}"})
        self.url = f"{google.url}/calendar/v3/calendars/{CALENDAR}/events"

    def page(self, **query: Any) -> dict[str, Any]:
        answer = self.client.get(self.url, params={"maxResults": PAGE, **query})
        answer.raise_for_status()
        return dict(answer.json())

    def everything(self) -> int:
        items, query = 0, {"showDeleted": "true"}
        while True:
            page = self.page(**query)
            items += len(page["items"])
            if "nextPageToken" not in page:
                return items
            query = {"showDeleted": "true", "pageToken": page["nextPageToken"]}


def seconds(action: Callable[[], object]) -> tuple[float, object]:
    started = time.perf_counter()
    result = action()
    return time.perf_counter() - started, result


def forget_token(url: str) -> None:
    engine = make_engine(url)
    with session_scope(engine) as session:
        state = session.get(CalendarSyncState, CALENDAR)
        if state is not None:
            state.sync_token = None
    engine.dispose()


def stored_token(url: str) -> str:
    engine = make_engine(url)
    with session_scope(engine) as session:
        state = session.get(CalendarSyncState, CALENDAR)
        token = state.sync_token if state else None
    engine.dispose()
    assert token
    return token


class Bench:
    """One copy of the store per run; both sides read the same fake Google."""

    def __init__(self, google: FakeGoogleCalendar, url: str, settings: CalendarSettings, api: CalendarApi,
                 bare: Bare, events: list[dict[str, Any]]) -> None:
        self.google, self.url, self.settings, self.api, self.bare = google, url, settings, api, bare
        self.events = events
        self.engine = make_engine(url)

    def sync(self) -> Any:
        return sync_calendar(self.api, lambda: session_scope(self.engine), self.settings, CALENDAR,
                             page_size=PAGE)

    def full(self) -> tuple[float, str]:
        bare_seconds, items = seconds(self.bare.everything)
        ours, report = seconds(self.sync)
        count = len(self.events)
        return bare_seconds / ours, (f"full: despacho {count / ours:7.0f} events/s ({ours:.2f} s, "
                                     f"{report.pages} pages, {report.echoes} echoes), bare "
                                     f"{int(items) / bare_seconds:7.0f} events/s ({bare_seconds:.2f} s)")  # type: ignore[call-overload]

    def incremental(self, changes: int, round_number: int) -> tuple[float, str]:
        for n in range(changes):  # a user moves events in Google
            moved = START + timedelta(days=400 + round_number, hours=n)
            event_id = self.events[(round_number * 97 + n * 613) % len(self.events)]["id"]
            self.google.put_event(CALENDAR, {"id": event_id, "start": when(moved),
                                             "end": when(moved + timedelta(hours=1))})
        token = stored_token(self.url)
        bare_page, _ = seconds(lambda: self.bare.page(showDeleted="true"))
        bare_changes, _ = seconds(lambda: self.bare.page(syncToken=token))
        ours, report = seconds(self.sync)
        return ours / bare_page, ours / bare_changes, (
            f"incremental: despacho {ours * 1000:.1f} ms ({report.applied} applied), bare page of {PAGE} "
            f"{bare_page * 1000:.1f} ms, bare incremental page {bare_changes * 1000:.1f} ms")

    def close(self) -> None:
        self.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--changes", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=5, help="incremental syncs per run (median)")
    args = parser.parse_args()
    print("load before:", os.getloadavg())
    with google_calendar_server() as google, tempfile.TemporaryDirectory() as tmp:
        template = Path(tmp) / "template.db"
        upgrade(f"sqlite:///{template}")
        events = fill_google(google, args.events)
        fill_store(f"sqlite:///{template}", events)
        refresh = google.grant(CALENDAR)
        settings = CalendarSettings(transport="google", api_url=google.api_url, token_uri=google.token_uri)
        api, bare = despacho_api(settings, refresh), Bare(google, access_token(google, refresh))
        full_ratios, incremental_ratios, against_changes = [], [], []
        for run in range(args.runs):
            shutil.copy(template, Path(tmp) / f"run{run}.db")
            bench = Bench(google, f"sqlite:///{Path(tmp) / f'run{run}.db'}", settings, api, bare, events)
            ratio, line = bench.full()
            full_ratios.append(ratio)
            print(f"run {run + 1} {line}")
            rounds = [bench.incremental(args.changes, run * args.rounds + n) for n in range(args.rounds)]
            incremental_ratios.append(statistics.median(r for r, _, _ in rounds))
            against_changes.append(statistics.median(r for _, r, _ in rounds))
            print(f"run {run + 1} " + min(rounds)[2] + f" (best of {args.rounds}; median ratios "
                  f"{incremental_ratios[-1]:.2f} / {against_changes[-1]:.2f})")
            bench.close()
        print(f"full sync of {args.events} events, throughput despacho / bare: "
              f"{statistics.median(full_ratios):.2f} (target >= 0.5; runs: "
              + ", ".join(f"{r:.2f}" for r in full_ratios) + ")")
        print(f"incremental sync of {args.changes} changes, time despacho / one bare page of {PAGE}: "
              f"{statistics.median(incremental_ratios):.2f}x (target <= 2; runs: "
              + ", ".join(f"{r:.2f}" for r in incremental_ratios) + ")")
        print(f"  for reference, / the bare incremental page alone ({args.changes} items, nothing applied): "
              f"{statistics.median(against_changes):.2f}x (runs: "
              + ", ".join(f"{r:.2f}" for r in against_changes) + ")")
    print("load after:", os.getloadavg())


if __name__ == "__main__":
    main()
