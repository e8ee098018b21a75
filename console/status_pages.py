"""The Status page, and "check now" (an admin runs every connector check at once and stores it)."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from console.auth import Admin, AdminForm, User
from console.context import NavItem, console_of
from console.render import page
from console.status import read_status_page
from engine.runtime.checks import IntegrationChecks
from store.audit import record_action
from store.db import session_scope

NAV = NavItem("/console/status", "Status", "Saúde das integrações, filas, cartas mortas e regras em vigor")


def register(router: APIRouter) -> None:
    @router.get("/status")
    async def status_page(request: Request, user: User) -> Response:
        console = console_of(request)
        figures = await anyio.to_thread.run_sync(read_status_page, console)
        return page(console, request, "status.html", user, status=figures)

    @router.post("/status/checks")
    async def check_now(request: Request, user: Admin, form: AdminForm) -> Response:
        console = console_of(request)

        def run() -> None:
            results = IntegrationChecks(console.settings, console.engine).run()
            with session_scope(console.engine) as session:
                record_action(session, user.actor, "console.integrations_checked", entity_type="integration",
                              details={r.connector: r.ok for r in results})

        await anyio.to_thread.run_sync(run)
        return RedirectResponse("/console/status", status_code=303)
