"""The Status page: integrations, queues, dead letters, the scheduler leader, backups, the rule set."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from console.auth import User
from console.context import NavItem, console_of
from console.render import page

NAV = NavItem("/console/status", "Status", "Saúde das integrações, filas, cartas mortas e regras em vigor")


def register(router: APIRouter) -> None:
    @router.get("/status")
    async def status_page(request: Request, user: User) -> Response:
        return page(console_of(request), request, "status.html", user)
