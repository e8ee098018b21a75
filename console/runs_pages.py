"""Runs and dead letters: search runs, read a run's trace, retry or discard dead letters.

The same store and engine functions as ``despacho runs`` and ``despacho dlq`` (and the API's
``/v1/dead-letters``): ``store.run_views`` and ``engine.runtime.deadletters``. Params and outputs
are shown through ``mask_params`` again, even though the rows are stored masked. Each page that
shows what was done for a customer is recorded in that customer's access log (``console.access``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response

from console.access import events_by_id, record_page_read
from console.auth import Admin, AdminForm, User
from console.context import Console, NavItem, console_of
from console.render import page
from engine.language.masking import mask_params
from engine.runtime import deadletters
from engine.runtime.outbox import Transaction
from store.audit import record_action
from store.db import session_scope
from store.errors import NotFound
from store.models.runs import RUN_STATUSES
from store.run_views import RunSearch, run_view, search_runs

NAV = NavItem("/console/execucoes", "Execuções", "Execuções de regras, seus rastros e as cartas mortas")
PAGE_SIZE = 50
MAX_IDS = 200


def shown(value: Any) -> str:
    """A JSON value for reading: masked, indented, text (the template escapes it)."""
    return json.dumps(mask_params(value), ensure_ascii=False, indent=2, default=str)


@contextmanager
def _transaction(console: Console) -> Iterator[Transaction]:
    """Steps queued by a retry are sent after the commit when this process runs the engine;
    otherwise they stay queued in the database, where a daemon's reaper picks them up."""
    if console.core is not None:
        with console.core.transaction() as tx:
            yield tx
        return
    with session_scope(console.engine) as session:
        yield Transaction(session)


def register(router: APIRouter) -> None:
    @router.get("/execucoes")
    async def runs_page(request: Request, user: User, rule: str = Query("", max_length=200),
                        event: str = Query("", max_length=200), customer: str = Query("", max_length=200),
                        status: str = Query("", max_length=20),
                        pagina: int = Query(1, ge=1, le=1000)) -> Response:
        console = console_of(request)
        search = RunSearch(rule.strip() or None, event.strip() or None, customer.strip() or None,
                           status if status in RUN_STATUSES else None)

        def read() -> list[Any]:
            with session_scope(console.engine) as session:
                found = search_runs(session, search, limit=PAGE_SIZE + 1, offset=(pagina - 1) * PAGE_SIZE)
                if search.customer:  # the list is then that person's history: a read of their data
                    record_page_read(session, user, events_by_id(session, [r.event_id for r in found]),
                                     what="GET /console/execucoes?customer=")
                return found

        runs = await anyio.to_thread.run_sync(read)
        return page(console, request, "runs.html", user, runs=runs[:PAGE_SIZE], more=len(runs) > PAGE_SIZE,
                    search=search, statuses=RUN_STATUSES, pagina=pagina)

    @router.get("/execucoes/cartas")
    async def dead_letters_page(request: Request, user: User, todas: bool = False) -> Response:
        console = console_of(request)

        def read() -> list[Any]:
            with session_scope(console.engine) as session:
                letters = list(deadletters.list_dead_letters(session, include_resolved=todas, limit=200))
                record_page_read(session, user, events_by_id(session, [d.event_id for d in letters]),
                                 what="GET /console/execucoes/cartas")
                return letters

        letters = await anyio.to_thread.run_sync(read)
        return page(console, request, "dead_letters.html", user, letters=letters, todas=todas, shown=shown)

    @router.post("/execucoes/cartas")
    async def act_on_dead_letters(request: Request, user: Admin, form: AdminForm) -> Response:
        console = console_of(request)
        ids = [str(i) for i in form.getlist("ids")][:MAX_IDS]
        action = form.get("acao")
        if action not in ("reprocessar", "descartar") or not ids:
            return RedirectResponse("/console/execucoes/cartas", status_code=303)

        def act() -> None:
            if action == "reprocessar":
                with _transaction(console) as tx:
                    steps = deadletters.retry(tx, ids, user.actor)
                    record_action(tx.session, user.actor, "dead_letters.retry", entity_type="dead_letter",
                                  details={"ids": ids, "requeued_step_ids": steps})
                return
            with session_scope(console.engine) as session:
                count = deadletters.discard(session, ids, user.actor)
                record_action(session, user.actor, "dead_letters.discard", entity_type="dead_letter",
                              details={"ids": ids, "discarded": count})

        try:
            await anyio.to_thread.run_sync(act)
        except NotFound as exc:
            return page(console, request, "refused.html", user, status_code=404, message=str(exc))
        back = str(form.get("voltar", ""))
        back = back if back.startswith("/console/execucoes") else "/console/execucoes/cartas"
        return RedirectResponse(back, status_code=303)

    @router.get("/execucoes/{run_id}")
    async def run_page(request: Request, user: User, run_id: str) -> Response:
        console = console_of(request)

        def read() -> Any:
            with session_scope(console.engine) as session:
                view = run_view(session, run_id[:36])
                record_page_read(session, user, [view.event], what="GET /console/execucoes/{id}")
                return view

        try:
            view = await anyio.to_thread.run_sync(read)
        except NotFound:
            return page(console, request, "refused.html", user, status_code=404,
                        message="execução não encontrada")
        conditions = (view.run.trace or {}).get("conditions") if view.run.trace else None
        return page(console, request, "run.html", user, view=view, conditions=conditions, shown=shown)
