"""The Dashboard page: figures, charts, exports and live counters (server-sent events).

The filters travel in the query string (``?dias=30&regiao=...``), so a filtered
view is a link to share and the export links carry the same filters. Charts
are drawn by ``static/dashboard.js`` with the plotly bundle that the installed
``plotly`` package ships, served from here: no CDN, no inline script (the data
sits in a ``<script type="application/json">`` block, which never runs).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response, StreamingResponse

from console.auth import User
from console.context import Console, NavItem, console_of
from console.exports import to_pdf, to_xlsx
from console.metrics import LOCAL, Choices, Dashboard, Filters, choices, dashboard, live_counters
from console.render import page
from console.report import CHANNELS, STATUSES, figures, filter_lines, tables
from store.types import utcnow

NAV = NavItem("/console/painel", "Painel",
              "Ordens, prazos, técnicos, faturamento e notificações do período, com filtros e exportação")
PERIODS = (7, 30, 90, 365)
MAX_DAYS = 366
STREAM_SECONDS = 5.0
STREAM_EVENTS = 120  # then the stream ends and the browser's EventSource reconnects
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class Query:
    """The filters as the form sent them, and what was wrong with them (shown, never raised)."""

    filters: Filters
    days: int | None
    problems: list[str]

    def link(self) -> str:
        """The filters as a query string, rebuilt from what was understood (never the raw URL)."""
        values = self.form_values()
        keep = ("dias",) if self.days else ("de", "ate")
        return urlencode({key: value for key, value in values.items()
                          if value and (key in keep or key in ("regiao", "tecnico", "categoria"))})

    def form_values(self) -> dict[str, str]:
        f = self.filters
        shown = f.days()
        return {"dias": str(self.days or ""), "de": shown[0].isoformat(), "ate": shown[-1].isoformat(),
                "regiao": f.region or "", "tecnico": f.technician_id or "", "categoria": f.category or ""}


def read_query(params: Any, now: datetime) -> Query:
    """``dias`` (a preset) or ``de``/``ate`` (local dates), plus ``regiao``, ``tecnico``, ``categoria``."""
    problems: list[str] = []
    fields = (("region", "regiao"), ("technician_id", "tecnico"), ("category", "categoria"))
    narrowing = {key: (str(params.get(name, "")).strip()[:100] or None) for key, name in fields}
    first, last = _date(params.get("de"), problems, "de"), _date(params.get("ate"), problems, "até")
    if first and last and not params.get("dias"):
        if last < first:
            problems.append("a data final vem antes da inicial")
        elif (last - first).days >= MAX_DAYS:
            problems.append(f"o período tem no máximo {MAX_DAYS} dias")
        else:
            return Query(Filters.for_dates(first, last, **narrowing), None, problems)
    days = _preset(params.get("dias"), problems)
    return Query(Filters.last_days(days, now, **narrowing), days, problems)


def register(router: APIRouter) -> None:
    @router.get("/painel")
    async def dashboard_page(request: Request, user: User) -> Response:
        console = console_of(request)
        now = utcnow()
        query = read_query(request.query_params, now)
        board, offered = await anyio.to_thread.run_sync(_load, console, query.filters, now)
        names = dict(offered.technicians)
        return page(console, request, "dashboard.html", user, board=board, offered=offered,
                    figures=figures(board), tables=tables(board), filters=filter_lines(board, names),
                    form=query.form_values(), periods=PERIODS, problems=query.problems,
                    query=query.link(), charts=chart_data(board))

    @router.get("/painel/exportar.xlsx")
    async def export_xlsx(request: Request, user: User) -> Response:
        return await _export(request, "xlsx")

    @router.get("/painel/exportar.pdf")
    async def export_pdf(request: Request, user: User) -> Response:
        return await _export(request, "pdf")

    @router.get("/dashboard/stream")
    async def stream(request: Request, user: User, events: int = STREAM_EVENTS) -> Response:
        console = console_of(request)
        count = max(1, min(events, STREAM_EVENTS))
        return StreamingResponse(_counter_events(request, console, count), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @router.get("/vendor/plotly.min.js")
    async def plotly_bundle() -> Response:
        return FileResponse(plotly_js(), media_type="text/javascript",
                            headers={"Cache-Control": "public, max-age=86400"})


def plotly_js() -> Path:
    """The bundle inside the installed ``plotly`` package (the same version as the Python side)."""
    import plotly

    return Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"


def chart_data(board: Dashboard) -> dict[str, Any]:
    """What ``dashboard.js`` plots: plain lists, no markup."""
    channels: dict[str, dict[str, int]] = {}
    for count in board.notifications:
        status = STATUSES.get(count.status, count.status)
        channels.setdefault(status, {})[CHANNELS.get(count.channel, count.channel)] = count.count
    return {
        "daily": {"days": [d.day.isoformat() for d in board.daily],
                  "opened": [d.opened for d in board.daily], "completed": [d.completed for d in board.daily]},
        "technicians": {"names": [t.name for t in board.technicians],
                        "utilisation": [round((t.utilisation or 0) * 100, 1) for t in board.technicians]},
        "notifications": {"by_status": channels, "channels": sorted(
            {CHANNELS.get(c.channel, c.channel) for c in board.notifications})},
    }


def _load(console: Console, filters: Filters, now: datetime) -> tuple[Dashboard, Choices]:
    price = _segment_price(console)
    with console.engine.connect() as connection:
        return (dashboard(connection, filters, at=now, sms_segment_price=price), choices(connection))


async def _export(request: Request, kind: str) -> Response:
    console = console_of(request)
    now = utcnow()
    query = read_query(request.query_params, now)
    board, offered = await anyio.to_thread.run_sync(_load, console, query.filters, now)
    names = dict(offered.technicians)
    days = query.filters.days()
    name = f"painel-{days[0]:%Y%m%d}-{days[-1]:%Y%m%d}.{kind}"
    body, media = ((await anyio.to_thread.run_sync(to_xlsx, board, names), XLSX) if kind == "xlsx"
                   else (await anyio.to_thread.run_sync(to_pdf, board, names), "application/pdf"))
    return Response(body, media_type=media, headers={
        "Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"})


async def _counter_events(request: Request, console: Console, count: int) -> AsyncIterator[str]:
    yield f"retry: {int(STREAM_SECONDS * 1000)}\n\n"
    for index in range(count):
        if await request.is_disconnected():
            return
        counters = await anyio.to_thread.run_sync(_counters, console)
        yield f"event: counters\ndata: {json.dumps(counters)}\n\n"
        if index + 1 < count:
            await asyncio.sleep(STREAM_SECONDS)


def _counters(console: Console) -> dict[str, Any]:
    now = utcnow()
    with console.engine.connect() as connection:
        counters: dict[str, Any] = dict(live_counters(connection, at=now, time_zone=LOCAL))
    counters["at"] = now.astimezone(LOCAL).strftime("%H:%M:%S")
    return counters


def _segment_price(console: Console) -> Decimal:
    sms = getattr(getattr(console.settings, "connectors", None), "sms", None)
    return Decimal(getattr(sms, "segment_price", 0) or 0)


def _date(value: Any, problems: list[str], name: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        problems.append(f"data '{name}' inválida (use AAAA-MM-DD)")
        return None


def _preset(value: Any, problems: list[str]) -> int:
    if value in (None, ""):
        return 30
    try:
        days = int(str(value))
    except ValueError:
        days = 0
    if not 1 <= days <= MAX_DAYS:
        problems.append(f"período inválido: de 1 a {MAX_DAYS} dias")
        return 30
    return days

